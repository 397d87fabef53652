"""ml.export: a real training run -> bundle; ONNX parity with eager PyTorch, float16 storage that
keeps the state-dict names, the int8 rule, the card's contents, and clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from ml.bundle import read_card, sha256_file
from ml.calibration import softmax
from ml.export import ExportError, export_run, read_float_weights
from ml.inference import load_predictor
from ml.train.checkpoint import model_from_checkpoint, read_checkpoint
from tests.ml.serving_helpers import CLASSES, colour_image, ood_folder, tiny_bundle, tiny_run


def test_export_writes_a_self_describing_bundle() -> None:
    bundle = tiny_bundle()
    assert {p.name for p in bundle.iterdir()} == {
        "model.onnx",
        "card.json",
        "heldout_logits.npz",
        "feature_density.npz",
    }
    card = read_card(bundle)
    raw = card.raw
    assert card.task == "colours"
    assert card.classes == CLASSES
    assert card.image_size == 128
    assert card.normalization.mean == (0.485, 0.456, 0.406)
    assert raw["preprocessing"]["resize"] == 146
    assert card.temperature > 0
    assert raw["parity"]["n"] == 12
    assert raw["parity"]["top1_agreement"] >= 0.98
    assert raw["parity"]["max_prob_diff"] < 0.01
    # The run's own PyTorch logits are reproduced: preprocessing is the training's eval path.
    assert raw["parity"]["eager_vs_run_val_logits_max_diff"] < 1e-3
    test = raw["metrics"]["test"]
    assert test["n"] == 12
    assert set(test["per_class"]) == set(CLASSES)
    assert {"accuracy", "balanced_accuracy", "macro_f1"} <= set(test)
    cal = raw["calibration"]
    assert cal["fitted_on"] == "val"
    assert cal["evaluated_on"] == "test"
    assert cal["bins"] == 15
    assert {"ece_before", "ece_after"} <= set(cal)
    unc = raw["uncertainty"]
    assert unc["ood_score"] == "energy"
    assert unc["rates"]["val"]["out_of_distribution_rate"] <= 0.1
    assert unc["feature_ood"]["threshold"] == card.feature_threshold
    assert unc["rates"]["val"]["out_of_distribution_rate"] <= 0.05 + 1e-9
    (ood,) = unc["out_of_distribution_sets"]
    assert ood["out_of_distribution_rate"] >= 0.75  # checkerboards are not colour photos
    assert ood["data"] == str(ood_folder())
    assert ood["n"] == 12
    assert raw["training"]["dataset"]["hash"]
    assert raw["training"]["config"]["image_size"] == 128
    assert raw["training"]["dataset"]["class_counts"] == {c: 20 for c in CLASSES}
    assert {"torch", "onnxruntime", "onnx", "python"} <= set(raw["versions"])
    assert "not a diagnosis" in raw["intended_use"]
    assert raw["data_licence"] == "generated"
    for name, entry in raw["files"].items():
        assert sha256_file(bundle / name) == entry["sha256"]


def test_onnx_keeps_state_dict_names_and_stores_weights_as_float16() -> None:
    model_file = tiny_bundle() / "model.onnx"
    state = read_checkpoint(tiny_run() / "checkpoints" / "best.pt")["model"]
    weights = read_float_weights(model_file)
    wanted = [k for k in state if not k.endswith("num_batches_tracked")]
    assert set(wanted) <= set(weights)
    for key in wanted:
        assert np.allclose(weights[key], state[key].numpy(), rtol=1e-3, atol=1e-4), key
    proto = onnx.load(str(model_file))
    dtypes = {i.name: i.data_type for i in proto.graph.initializer}
    conv = "backbone.blocks.18.0.weight"  # MobileNetV2's 320 -> 1280 conv
    assert dtypes[conv] == onnx.TensorProto.FLOAT16
    float32_bytes = sum(v.numel() * 4 for k, v in state.items() if k in weights)
    assert model_file.stat().st_size < 0.6 * float32_bytes


def test_served_graph_agrees_with_eager_pytorch_on_new_images() -> None:
    model, _ = model_from_checkpoint(tiny_run())
    predictor = load_predictor(tiny_bundle())
    images = [colour_image(c, seed=s) for c in CLASSES for s in (1, 2, 3)]
    batch = np.stack([predictor.preprocess(im) for im in images])
    with torch.inference_mode():
        eager = model(torch.from_numpy(batch)).numpy()
    served = predictor.predict_logits(batch)
    assert (eager.argmax(1) == served.argmax(1)).all()
    assert np.abs(softmax(eager) - softmax(served)).max() < 5e-3
    assert [CLASSES[i] for i in served.argmax(1)] == [c for c in CLASSES for _ in range(3)]


def test_cli_export_with_int8_keeps_it_only_within_one_f1_point(tmp_path, capsys) -> None:
    from ml.cli import main

    out = tmp_path / "bundle"
    code = main(["export", str(tiny_run()), "--task", "colours", "--out", str(out),
                 "--quantize", "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    quant = read_card(out).raw["quantization"]
    assert quant["tried"]
    assert report["quantization"]["kept"] == quant["kept"]
    assert quant["kept"] == (quant["int8_macro_f1"] >= quant["float_macro_f1"] - 0.01)
    assert quant["int8_bytes"] < quant["float_bytes"] / 1.5
    graph_ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    if quant["kept"]:
        assert "QuantizeLinear" in graph_ops
        assert (out / "reference.onnx").is_file()
        assert read_card(out).gradcam_file == "reference.onnx"
    else:
        assert "QuantizeLinear" not in graph_ops
        assert not (out / "reference.onnx").exists()
    prediction = load_predictor(out).predict(colour_image("green"))
    assert prediction.top_class == "green"


def test_export_refuses_a_run_whose_images_are_gone(tmp_path) -> None:
    run = Path(shutil.copytree(tiny_run(), tmp_path / "run"))
    splits = json.loads((run / "splits.json").read_text())
    splits["dataset"]["sources"] = [str(tmp_path / "moved-away")]
    (run / "splits.json").write_text(json.dumps(splits))
    with pytest.raises(ExportError, match="is not here"):
        export_run(run, tmp_path / "bundle", task="colours")
    assert not (tmp_path / "bundle").exists()


def test_export_refuses_a_run_without_a_checkpoint(tmp_path) -> None:
    with pytest.raises(ExportError, match="best.pt is missing"):
        export_run(tmp_path, tmp_path / "bundle", task="colours")


def test_source_bias_reports_a_class_that_comes_from_one_source_only(tmp_path) -> None:
    """Red photos from a "studio", green and blue ones from a "clinic": the report finds that
    red is the single-source class and measures how the model treats each source's photos."""
    from ml.data import concat, scan
    from ml.export.images import RunData, RunSplit
    from ml.export.probes import source_bias
    from ml.inference import make_session, transform_from_card

    studio, clinic = tmp_path / "studio", tmp_path / "clinic"
    studio.mkdir()
    for s in range(4):
        colour_image("red", seed=10 + s).save(studio / f"r{s}.png")
        for c in ("green", "blue"):
            (clinic / c).mkdir(parents=True, exist_ok=True)
            colour_image(c, seed=20 + s).save(clinic / c / f"{c}{s}.png")
    index = concat(scan(studio, as_class="red"), scan(clinic))
    labels = np.array([CLASSES.index(r.label) for r in index.records])
    split = RunSplit("test", tuple(index.all_keys()), labels, np.zeros((12, 3)), index.records)
    card = read_card(tiny_bundle())
    run = RunData(tiny_run(), index, CLASSES, transform_from_card(card), split, split)
    report = source_bias(make_session(tiny_bundle() / "model.onnx"), run)
    (single,) = report["single_source_classes"]
    assert single["class"] == "red"
    assert single["source"] == "studio"
    assert (single["n_source"], single["n_other"]) == (4, 8)
    assert single["source_photos_called_class"]["plain"] >= 0.75
    assert single["other_photos_called_class"]["plain"] <= 0.25
    assert set(single["other_photos_called_class"]) == {
        "plain",
        "blurred",
        "greyscale",
        "centre_patch",
    }
    table = report["prediction_share_by_source_folder"]
    assert set(table) == {"studio/red", "clinic/green", "clinic/blue"}
    assert table["clinic/green"]["plain"]["green"] >= 0.75
