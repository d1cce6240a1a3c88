"""The customer record as the public API and the dataset spell it, and its validation rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

YesNo = Literal["Yes", "No"]
InternetAddOn = Literal["Yes", "No", "No internet service"]

MAX_TENURE_MONTHS = 1200
MAX_MONTHLY_CHARGES = 100_000.0
MAX_BATCH_RECORDS = 10_000
CUSTOMER_ID_PATTERN = r"^[\w.:-]+$"
MAX_CUSTOMER_ID_LENGTH = 64


INTERNET_ADD_ONS = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)
# Add-ons exist only with their base service, as in every row of the dataset: (base service,
# its value for "none", the add-ons, their value exactly when the base is "none").
DEPENDENT_SERVICES = (
    ("phone_service", "No", ("multiple_lines",), "No phone service"),
    ("internet_service", "No", INTERNET_ADD_ONS, "No internet service"),
)


def _dependent_services_schema(schema: dict) -> None:
    """The cross-field rules in JSON Schema (if/then/else), so that the OpenAPI document states
    every rule the validator enforces: a client generated from it sends nothing refused."""
    schema["allOf"] = [
        {
            "if": {"properties": {base: {"const": none}}, "required": [base]},
            "then": {"properties": {name: {"const": absent} for name in add_ons}},
            "else": {"properties": {name: {"not": {"const": absent}} for name in add_ons}},
        }
        for base, none, add_ons, absent in DEPENDENT_SERVICES
    ]


class CustomerRecord(BaseModel):
    """One customer, fields named as the dataset's columns in snake_case."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
        json_schema_extra=_dependent_services_schema,
    )

    customer_id: Annotated[
        str, Field(min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH, pattern=CUSTOMER_ID_PATTERN)
    ]
    gender: Literal["Female", "Male"]
    senior_citizen: Annotated[int, Field(strict=True, ge=0, le=1)]
    partner: YesNo
    dependents: YesNo
    tenure: Annotated[int, Field(strict=True, ge=0, le=MAX_TENURE_MONTHS)]
    phone_service: YesNo
    multiple_lines: Literal["Yes", "No", "No phone service"]
    internet_service: Literal["DSL", "Fiber optic", "No"]
    online_security: InternetAddOn
    online_backup: InternetAddOn
    device_protection: InternetAddOn
    tech_support: InternetAddOn
    streaming_tv: InternetAddOn
    streaming_movies: InternetAddOn
    contract: Literal["Month-to-month", "One year", "Two year"]
    paperless_billing: YesNo
    payment_method: Literal[
        "Electronic check",
        "Mailed check",
        "Bank transfer (automatic)",
        "Credit card (automatic)",
    ]
    monthly_charges: Annotated[float, Field(strict=True, ge=0, le=MAX_MONTHLY_CHARGES)]
    total_charges: Annotated[
        float | None, Field(strict=True, ge=0, le=MAX_MONTHLY_CHARGES * MAX_TENURE_MONTHS)
    ] = None

    @model_validator(mode="after")
    def _services_are_consistent(self) -> CustomerRecord:
        """Add-ons only exist with their base service: the dataset never breaks these rules."""
        for base, none, add_ons, absent in DEPENDENT_SERVICES:
            without = getattr(self, base) == none
            for name in add_ons:
                if without != (getattr(self, name) == absent):
                    raise ValueError(f"{name} must be '{absent}' exactly when {base} is '{none}'")
        return self


CATEGORICAL_FIELDS: tuple[str, ...] = (
    "gender",
    "partner",
    "dependents",
    "phone_service",
    "multiple_lines",
    "internet_service",
    *INTERNET_ADD_ONS,
    "contract",
    "paperless_billing",
    "payment_method",
)
NUMERIC_FIELDS: tuple[str, ...] = ("senior_citizen", "tenure", "monthly_charges", "total_charges")
# The dataset's own column names, in its order, for loading the CSV.
DATASET_COLUMNS: dict[str, str] = {
    "customerID": "customer_id",
    "gender": "gender",
    "SeniorCitizen": "senior_citizen",
    "Partner": "partner",
    "Dependents": "dependents",
    "tenure": "tenure",
    "PhoneService": "phone_service",
    "MultipleLines": "multiple_lines",
    "InternetService": "internet_service",
    "OnlineSecurity": "online_security",
    "OnlineBackup": "online_backup",
    "DeviceProtection": "device_protection",
    "TechSupport": "tech_support",
    "StreamingTV": "streaming_tv",
    "StreamingMovies": "streaming_movies",
    "Contract": "contract",
    "PaperlessBilling": "paperless_billing",
    "PaymentMethod": "payment_method",
    "MonthlyCharges": "monthly_charges",
    "TotalCharges": "total_charges",
}
TARGET_COLUMN = "Churn"


class BatchRequest(BaseModel):
    """Body of POST /v1/predict/batch."""

    model_config = ConfigDict(extra="forbid")

    records: Annotated[list[CustomerRecord], Field(min_length=1, max_length=MAX_BATCH_RECORDS)]


class Reason(BaseModel):
    """One feature that pushed this customer's churn score up."""

    feature: str
    value: str | float | int
    impact: Annotated[float, Field(description="Contribution to the churn log-odds.")]


class Prediction(BaseModel):
    """The response stage's output for one record."""

    prediction_id: Annotated[
        str, Field(description="The server's id of this prediction in the log (UUIDv7, hex).")
    ]
    request_id: Annotated[
        str, Field(description="The correlation id: the caller's X-Request-ID, or a new one.")
    ]
    customer_id: str
    churn_probability: Annotated[float, Field(ge=0, le=1)]
    churn: bool
    risk: Literal["low", "medium", "high"]
    reasons: list[Reason]
    model_version: str
    recorded: Annotated[
        bool, Field(description="False when the record is spooled, not yet in the prediction log.")
    ]
    copies: Annotated[
        int,
        Field(
            ge=1,
            description="Durable copies of the record confirmed before this answer: 1 on one"
            " machine's disk (or a spool), 2 on a cluster's primary and its standby.",
        ),
    ]


class BatchPrediction(BaseModel):
    """Body of a successful POST /v1/predict/batch."""

    request_id: str
    model_version: str
    count: int
    predictions: list[Prediction]
