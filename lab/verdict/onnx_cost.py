"""A user's ONNX model, measured here as the model tier would serve it: its file's size, the
memory its session holds, and its cost per record at batch sizes 1 to 64, on random inputs of
the shapes and types its graph declares. Run in a fresh process (`python -m
lab.verdict.onnx_cost FILE`), so that the memory is the model's own.

A dimension the graph leaves open is the batch if it is the first, else 1: a model whose
other open dimensions (a sequence's length, say) drive its cost is better given as MODEL_MS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime

from churnlab.domain.inference import served_session
from lab.bench.model_range import BATCH_SIZES, per_record_us, resident_bytes
from runtimes.paths import ROOT

# ONNX's tensor types as NumPy's; a model taking another (a string, a sequence) is refused.
DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


class UnmeasurableModelError(ValueError):
    """The graph takes what random inputs cannot stand for; give MODEL_MS and MODEL_MB."""


def batch_sizes(session: onnxruntime.InferenceSession) -> tuple[int, ...]:
    """The batch sizes to measure: 1 to 64 where every input's first dimension is open, else
    1 alone, where the graph fixes it at 1 (or takes scalars). A graph whose batch is fixed
    above 1 is refused: a request would pay for a whole padded call, which MODEL_MS can say."""
    firsts = {(node.shape or [1])[0] for node in session.get_inputs()}
    fixed = {dim for dim in firsts if isinstance(dim, int)}
    if fixed - {1}:
        raise UnmeasurableModelError(
            f"its batch is fixed at {sorted(fixed)}: give MODEL_MS as one call's cost instead"
        )
    return (1,) if fixed else BATCH_SIZES


def random_inputs(
    session: onnxruntime.InferenceSession, size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One random array per input: `size` rows, its other open dimensions 1; integers from 0
    to 9 (an index or a category's code stays in range of most embeddings)."""
    inputs = {}
    for node in session.get_inputs():
        if node.type not in DTYPES:
            raise UnmeasurableModelError(
                f"input {node.name!r} is {node.type}: give MODEL_MS instead"
            )
        shape = [
            dim if isinstance(dim, int) else (size if axis == 0 else 1)
            for axis, dim in enumerate(node.shape or [])
        ]
        dtype = DTYPES[node.type]
        if np.issubdtype(dtype, np.floating):
            inputs[node.name] = rng.standard_normal(shape).astype(dtype)
        else:
            inputs[node.name] = rng.integers(0, 10, shape).astype(dtype)
    return inputs


def measure(onnx_path: Path, rounds: int = 5) -> dict:
    """The model's size, memory held and cost per record, in this process."""
    before = resident_bytes()
    session = served_session(onnx_path)
    rng = np.random.default_rng(0)
    session.run(None, random_inputs(session, 1, rng))  # warmed up, as make models measures
    held = resident_bytes() - before
    costs = {}
    for size in batch_sizes(session):
        inputs = random_inputs(session, size, rng)
        costs[str(size)] = per_record_us(lambda i=inputs: session.run(None, i), size, rounds)
    return {
        "onnx": str(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size,
        "memory_bytes": held,
        "us_per_record": costs,
    }


def measured_apart(onnx_path: Path, rounds: int = 5) -> dict:
    """measure(), in a fresh Python process of its own."""
    command = [sys.executable, "-m", "lab.verdict.onnx_cost", str(onnx_path.resolve())]
    done = subprocess.run(
        [*command, "--rounds", str(rounds)], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise UnmeasurableModelError(f"{onnx_path} could not be measured:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("onnx", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.onnx, args.rounds)))


if __name__ == "__main__":
    main()
