"""Any client of the Open Inference Protocol works against ChurnLab's model tier: Triton's own
Python HTTP client (tritonclient[http]) asks the inference service, as gunicorn serves it, for
its health and metadata and infers, with typed NumPy columns, the probabilities ChurnLab's
public API answers."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from churnlab.adapters import inference_protocol as protocol
from churnlab.adapters.local_stages import LocalFeatures
from churnlab.domain.schema import CustomerRecord
from runtimes.local import gunicorn


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    """Triton's client on the inference service (its URL without a scheme, as Triton's is)."""
    with gunicorn("services.inference.app:create_app()", tmp_path_factory.mktemp("oip")) as (
        url,
        _,
    ):
        yield httpclient.InferenceServerClient(url=url.removeprefix("http://"))


def test_triton_s_client_reads_health_and_metadata(triton):
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("churn")
    metadata = triton.get_model_metadata("churn")
    assert metadata["platform"] == "onnxruntime_onnx"
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == protocol.INPUT_TYPES


def test_triton_s_client_infers_the_public_api_s_probabilities(triton, dataset_records, client):
    records = dataset_records[:8]
    columns = LocalFeatures().prepare([CustomerRecord.model_validate(r) for r in records])
    inputs = []
    for name, datatype in protocol.INPUT_TYPES.items():
        tensor = httpclient.InferInput(name, [len(records)], datatype)
        values = np.array(columns[name], dtype=object if datatype == "BYTES" else np.float64)
        tensor.set_data_from_numpy(values, binary_data=False)
        inputs.append(tensor)
    outputs = [
        httpclient.InferRequestedOutput(name, binary_data=False) for name in protocol.OUTPUTS
    ]
    result = triton.infer("churn", inputs, outputs=outputs, request_id="triton-1")
    probabilities = result.as_numpy("churn_probability")
    assert result.as_numpy("contributions").shape == (len(records), len(protocol.FEATURES))
    public = client.post("/v1/predict/batch", json={"records": records}).get_json()["predictions"]
    assert [round(float(p), 6) for p in probabilities] == [p["churn_probability"] for p in public]
    assert result.get_response()["id"] == "triton-1"


def test_triton_s_client_reads_the_service_s_errors(triton):
    with pytest.raises(InferenceServerException, match="no model named 'other'"):
        triton.get_model_metadata("other")
    short = httpclient.InferInput("tenure", [1], "FP64")
    short.set_data_from_numpy(np.array([1.0]), binary_data=False)
    with pytest.raises(InferenceServerException, match="missing"):
        triton.infer("churn", [short])
