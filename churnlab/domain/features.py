"""Feature prep: derived features computed column-wise in plain Python.

One implementation serves a single record (no numpy or pandas start-up cost per call) and a
10,000-record batch (list comprehensions over columns), and training runs the very same code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from churnlab.domain.schema import (
    CATEGORICAL_FIELDS,
    INTERNET_ADD_ONS,
    NUMERIC_FIELDS,
    CustomerRecord,
)

FeatureColumns = dict[str, list]

NUMERIC_FEATURES: tuple[str, ...] = (
    *NUMERIC_FIELDS,
    "avg_monthly_spend",
    "charge_increase",
    "service_count",
    "log_tenure",
    "month_to_month_tenure",
)
CATEGORICAL_FEATURES: tuple[str, ...] = CATEGORICAL_FIELDS
# Derived features explained as the customer field they come from, so reasons read naturally.
REASON_FIELD: dict[str, str] = {
    "log_tenure": "tenure",
    "month_to_month_tenure": "tenure",
    "avg_monthly_spend": "total_charges",
    "charge_increase": "monthly_charges",
}


def row_count(features: FeatureColumns) -> int:
    return len(next(iter(features.values())))


def joined(parts: Sequence[FeatureColumns]) -> FeatureColumns:
    """Several requests' columns as one batch, in order (Scores.split undoes it)."""
    return {name: [value for part in parts for value in part[name]] for name in parts[0]}


def records_to_columns(records: Sequence[CustomerRecord]) -> dict[str, list]:
    """Turn validated records into the column layout the feature code works on."""
    fields = ("customer_id", *CATEGORICAL_FIELDS, *NUMERIC_FIELDS)
    return {name: [getattr(record, name) for record in records] for name in fields}


def prepare_features(columns: Mapping[str, Sequence]) -> FeatureColumns:
    """Derive the model's input columns from raw record columns.

    `total_charges` is blank in the data for brand-new customers (tenure 0): it is imputed as
    `monthly_charges * tenure`, which is what those customers have been billed so far.
    """
    tenure = [int(months) for months in columns["tenure"]]
    monthly = [float(charge) for charge in columns["monthly_charges"]]
    total = [
        float(charged) if charged is not None else months * charge
        for charged, months, charge in zip(columns["total_charges"], tenure, monthly, strict=True)
    ]
    avg_spend = [
        charged / months if months > 0 else charge
        for charged, months, charge in zip(total, tenure, monthly, strict=True)
    ]
    services = _count_services(columns)
    features: FeatureColumns = {name: list(columns[name]) for name in CATEGORICAL_FEATURES}
    features.update(
        senior_citizen=[int(flag) for flag in columns["senior_citizen"]],
        tenure=tenure,
        monthly_charges=monthly,
        total_charges=total,
        avg_monthly_spend=avg_spend,
        charge_increase=[charge - avg for charge, avg in zip(monthly, avg_spend, strict=True)],
        service_count=services,
        # Churn falls fastest over the first months, and mostly for month-to-month customers.
        log_tenure=[math.log1p(months) for months in tenure],
        month_to_month_tenure=[
            months if contract == "Month-to-month" else 0
            for months, contract in zip(tenure, columns["contract"], strict=True)
        ],
    )
    return features


def _count_services(columns: Mapping[str, Sequence]) -> list[int]:
    """How many services each customer pays for: a proxy for how embedded they are."""
    yes_columns = [columns[name] for name in ("phone_service", "multiple_lines", *INTERNET_ADD_ONS)]
    has_internet = [service != "No" for service in columns["internet_service"]]
    return [
        sum(value == "Yes" for value in row) + internet
        for row, internet in zip(zip(*yes_columns, strict=True), has_internet, strict=True)
    ]
