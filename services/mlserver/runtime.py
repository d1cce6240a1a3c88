"""(In MLServer's venv.) ChurnLab's model tier as an MLServer runtime: the same Open Inference
Protocol answers as the inference service's, from the same protocol module and model code, so
that the gateway and the hybrid API cannot tell the two servers apart."""

from __future__ import annotations

from pathlib import Path

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataModelResponse
from mlserver.utils import get_model_uri
from pydantic import ValidationError

from churnlab.adapters import inference_protocol as protocol
from churnlab.domain.errors import UnknownCategoryError
from churnlab.domain.inference import ChurnModel


class ChurnModelTier(MLModel):
    async def load(self) -> bool:
        model = ChurnModel.load(Path(await get_model_uri(self.settings)))
        model.warm_up()  # as the inference service does: ready only once it matches its card
        self._model = model
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        try:
            request = protocol.InferRequest.model_validate(payload.model_dump(exclude_none=True))
            features = request.features()
            self._model.check_categories(features)
        except (ValidationError, ValueError, UnknownCategoryError) as error:
            raise MLServerError(str(error), status_code=422) from error
        answer = protocol.infer_response(self._model.predict(features), request)
        return InferenceResponse.model_validate(answer)

    async def metadata(self) -> MetadataModelResponse:
        card = {key: value for key, value in self._model.card.items() if key != "reference"}
        return MetadataModelResponse.model_validate(protocol.model_metadata(card))
