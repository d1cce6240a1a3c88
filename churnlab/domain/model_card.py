"""The model artifact: an ONNX graph plus a JSON model card, verified by hash before use."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churnlab.domain.errors import ModelIntegrityError

ONNX_FILE = "model.onnx"
CARD_FILE = "model_card.json"
# The ONNX graph's inputs: [rows, categorical features] strings and [rows, numeric] floats.
CATEGORICAL_INPUT = "categorical"
NUMERIC_INPUT = "numeric"


def sha256_of(path: Path) -> str:
    """Content hash used both as the model version and as the integrity check."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelArtifact:
    """A model directory whose ONNX bytes have been checked against its card."""

    directory: Path
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def onnx_path(self) -> Path:
        return self.directory / ONNX_FILE

    @classmethod
    def load(cls, directory: Path) -> ModelArtifact:
        """Read the card and refuse an ONNX file whose hash differs from the one it records."""
        directory = Path(directory).resolve()
        card_path = directory / CARD_FILE
        if not card_path.is_file():
            raise ModelIntegrityError(f"no model card at {card_path}; run `make model`")
        card = json.loads(card_path.read_text())
        actual = sha256_of(directory / ONNX_FILE)
        if actual != card["onnx_sha256"]:
            raise ModelIntegrityError(
                f"{directory / ONNX_FILE} has sha256 {actual}, card says {card['onnx_sha256']}"
            )
        return cls(directory=directory, card=card)
