"""`make model`: fetch the data if needed, train, evaluate on the holdout and export a versioned
ONNX artifact with its model card, made models/current.

    python -m churnlab.ml --data data/telco_customer_churn.csv
    python -m churnlab.ml --model mlp --width 1024 --no-current   # a heavier model, for the lab
    python -m churnlab.ml --model gbt --trees 500 --no-current
"""

from __future__ import annotations

import argparse
from pathlib import Path

from churnlab.ml.data import DEFAULT_DATASET_PATH, dataset_sha256, fetch_dataset, load_dataset
from churnlab.ml.evaluate import holdout_metrics
from churnlab.ml.export import DEFAULT_MODELS_DIR, export_artifact
from churnlab.ml.train import KINDS, ModelSpec, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATASET_PATH)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--model", choices=KINDS, default="logistic")
    parser.add_argument("--width", type=int, default=256, help="mlp: units per hidden layer")
    parser.add_argument("--depth", type=int, default=2, help="mlp: hidden layers")
    parser.add_argument("--trees", type=int, default=200, help="gbt: boosting rounds")
    parser.add_argument("--no-current", action="store_true", help="leave models/current as is")
    args = parser.parse_args()
    data_path = fetch_dataset(args.data)
    records, target = load_dataset(data_path)
    spec = ModelSpec(args.model, width=args.width, depth=args.depth, trees=args.trees)
    trained = train(records, target, spec=spec)
    metrics = holdout_metrics(
        trained.holdout_target, trained.pipeline.predict_proba(trained.holdout_features)[:, 1]
    )
    artifact_dir = export_artifact(
        trained,
        metrics=metrics,
        dataset_hash=dataset_sha256(data_path),
        models_dir=args.models_dir,
        current=not args.no_current,
    )
    print(f"model {artifact_dir.name}: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
