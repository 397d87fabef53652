"""python -m ml validate | train | evaluate, end to end on tiny generated data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ml.cli import main
from tests.ml.helpers import make_dataset, zip_dir

REPO = Path(__file__).resolve().parents[2]
SETTINGS = (
    "pretrained=false image_size=32 batch_size=8 frozen_epochs=1 finetune_epochs=1 threads=1 "
    "val_fraction=0.2 test_fraction=0.2 tta=dihedral"
)
TINY = [arg for setting in SETTINGS.split() for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    return make_dataset(root / "skin", {"calm": 12, "angry": 12, "dropped": 3}, size=40)


def test_validate_prints_json_and_fails_on_errors(dataset, tmp_path, capsys) -> None:
    assert main(["validate", str(dataset), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["class_counts"] == {"angry": 12, "calm": 12, "dropped": 3}
    assert {f["code"] for f in report["findings"]} >= {"too_few_images", "too_small"}
    broken = make_dataset(tmp_path / "broken", {"a": 3, "b": 3}, size=40)
    (broken / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    assert main(["validate", str(broken)]) == 1
    assert "[error] truncated" in capsys.readouterr().out


def test_train_from_a_zip_then_evaluate_the_test_split_as_json(dataset, tmp_path, capsys) -> None:
    archive = zip_dir(dataset, tmp_path / "skin.zip", wrap="skin")
    data = ["--data", str(archive), "--map", "dropped="]
    run = tmp_path / "run"
    assert main(["train", *data, *TINY, "--out", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["classes"] == ["angry", "calm"]
    assert main(["evaluate", "--model", str(run), *data, "--split", "test", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    for key in (
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "weighted_f1",
        "per_class",
        "confusion_matrix",
        "classes",
    ):
        assert key in scores
    # The inference preprocessing path gives the very numbers training measured on test.
    assert scores["accuracy"] == pytest.approx(result["test"]["accuracy"])
    assert scores["macro_f1"] == pytest.approx(result["test"]["macro_f1"])
    assert scores["n"] == result["test"]["n"]
    tta = ["--split", "test", "--tta", "dihedral", "--json"]
    assert main(["evaluate", "--model", str(run), *data, *tta]) == 0
    assert json.loads(capsys.readouterr().out)["macro_f1"] == pytest.approx(
        result["test_tta"]["macro_f1"]
    )


def test_bad_config_values_exit_with_a_message(dataset, capsys) -> None:
    assert main(["train", "--data", str(dataset), "--set", "optimizer=adam"]) == 2
    assert "optimizer: 'adam' is not one of" in capsys.readouterr().err


def test_python_dash_m_ml_runs(dataset) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ml", "validate", str(dataset)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "3 classes" in out.stdout
