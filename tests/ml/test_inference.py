"""ml.inference: torch-free import, calibrated predictions in card order, batch API, EXIF,
JPEG draft decoding, uncertainty reasons, per-process caching, parity on real photos."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml.calibration import softmax
from ml.inference import DRAFT_MARGIN, Prediction, decode_image, load_predictor
from ml.train.checkpoint import model_from_checkpoint
from ml.transforms import preprocess
from tests.ml.serving_helpers import (
    CLASSES,
    REPO,
    colour_image,
    ood_folder,
    tiny_bundle,
    tiny_run,
)


def test_serving_path_never_imports_torch(tmp_path) -> None:
    image = tmp_path / "photo.jpg"
    colour_image("red", (200, 160)).save(image)
    code = (
        "import json, sys\nfrom ml.inference import load_predictor\n"
        f"p = load_predictor({str(tiny_bundle())!r}).predict({str(image)!r})\n"
        "print(json.dumps({'top': p.top_class, 'heavy': sorted(m for m in "
        "('torch', 'sklearn', 'django', 'onnx', 'scipy') if m in sys.modules)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"top": "red", "heavy": []}


def test_prediction_is_temperature_calibrated_in_card_order() -> None:
    predictor = load_predictor(tiny_bundle())
    image = colour_image("blue")
    p = predictor.predict(image)
    assert isinstance(p, Prediction)
    assert p.classes == CLASSES
    assert list(p.probabilities) == list(CLASSES)
    assert sum(p.probabilities.values()) == pytest.approx(1.0)
    logits = predictor.predict_logits(predictor.preprocess(image)[None])[0]
    expected = softmax(logits, predictor.card.temperature)
    assert list(p.probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-9)
    assert p.top_class == "blue"
    assert p.top_probability == max(p.probabilities.values())
    assert json.loads(json.dumps(p.to_dict()))["classes"] == list(CLASSES)


def test_predict_batch_equals_one_by_one_and_accepts_bytes_and_paths(tmp_path) -> None:
    predictor = load_predictor(tiny_bundle())
    images = [colour_image(c, seed=7) for c in ("red", "green", "blue", "red")]
    path = tmp_path / "x.png"
    images[1].save(path)
    buf = io.BytesIO()
    images[2].save(buf, format="PNG")
    inputs = [images[0], path, buf.getvalue(), str(path)]
    batch = predictor.predict_batch(inputs, batch_size=3)
    single = [predictor.predict(x) for x in inputs]
    assert [b.top_class for b in batch] == ["red", "green", "blue", "green"]
    for b, s in zip(batch, single, strict=True):
        assert list(b.probabilities.values()) == pytest.approx(list(s.probabilities.values()))


def test_exif_orientation_is_applied() -> None:
    predictor = load_predictor(tiny_bundle())
    ramp = np.linspace(0, 255, 120, dtype=np.uint8)
    upright = Image.fromarray(np.stack([np.tile(ramp, (60, 1))] * 3, axis=-1))
    upright.paste((250, 40, 40), (0, 0, 40, 60))  # a red band on the left: orientation matters
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=95, exif=exif)
    assert decode_image(buf.getvalue(), 146).size == upright.size
    seen = predictor.preprocess(buf.getvalue())
    assert np.abs(seen - predictor.preprocess(upright)).mean() < 0.05
    assert np.abs(seen - predictor.preprocess(stored)).mean() > 0.5


def test_large_jpegs_are_draft_decoded_close_to_a_full_decode() -> None:
    predictor = load_predictor(tiny_bundle())
    big = colour_image("red", seed=3).resize((1440, 1200), Image.BICUBIC)  # a 1.7 Mpx photo
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=92)
    drafted = decode_image(buf.getvalue(), predictor.eval_transform.resize * DRAFT_MARGIN)
    assert min(drafted.size) >= 2 * 146
    assert drafted.size == (360, 300)  # decoded at 1/4 scale
    fast = predictor.predict(buf.getvalue())
    full = predictor.predict(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert fast.top_class == full.top_class == "red"
    diffs = [abs(fast.probabilities[c] - full.probabilities[c]) for c in CLASSES]
    assert max(diffs) < 0.01


def test_uncertainty_reasons_follow_the_card_thresholds() -> None:
    predictor = load_predictor(tiny_bundle())
    card = predictor.card
    confident = np.array([[0.0, 0.0, 30.0]])  # low energy, one class dominates
    flat = np.array([[5.0, 5.0, 5.0]])  # top probability 1/3
    unfamiliar = np.full((1, 3), card.ood_threshold * -1 - 10.0)  # energy far above threshold
    sure, unsure, odd = predictor.from_outputs(np.concatenate([confident, flat, unfamiliar]))
    assert (sure.uncertain, sure.reasons) == (False, ())
    if card.confidence_threshold > 1 / 3:
        assert "low_confidence" in unsure.reasons
        assert unsure.uncertain
    assert "out_of_distribution" in odd.reasons
    assert odd.ood_score > card.ood_threshold


def test_photos_of_another_kind_are_flagged_out_of_distribution() -> None:
    predictor = load_predictor(tiny_bundle())
    threshold = predictor.card.feature_threshold
    assert threshold is not None
    familiar = [colour_image(c, seed=s) for c in CLASSES for s in (1, 2, 3)]
    odd = sorted(ood_folder().iterdir())  # grey checkerboards
    seen, strange = predictor.predict_batch(familiar), predictor.predict_batch(odd)
    assert all(p.feature_distance < threshold for p in seen)
    assert np.mean([p.feature_distance > threshold for p in strange]) >= 0.75
    assert np.mean(["out_of_distribution" in p.reasons for p in strange]) >= 0.75
    assert all(p.uncertain for p in strange if "out_of_distribution" in p.reasons)


def test_load_predictor_caches_per_process_and_reloads_a_changed_card(tmp_path) -> None:
    from tests.ml.serving_helpers import copy_bundle

    bundle = copy_bundle(tmp_path)
    first = load_predictor(bundle)
    assert load_predictor(str(bundle)) is first
    card = bundle / "card.json"
    stat = card.stat()
    os.utime(card, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_predictor(bundle) is not first


def test_parity_with_eager_pytorch_on_real_photos(shared_data: Path) -> None:
    """Real dermoscopy photos through the served graph and through the eager checkpoint."""
    files = [sorted((shared_data / "ham10000" / "images" / c).iterdir())[0] for c in
             ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")]  # fmt: skip
    files += sorted((shared_data / "facial" / "wrinkles").iterdir())[:3]
    model, info = model_from_checkpoint(tiny_run())
    predictor = load_predictor(tiny_bundle())
    batch = np.stack([preprocess(f, info.image_size, info.mean, info.std) for f in files])
    with torch.inference_mode():
        eager = model(torch.from_numpy(batch)).numpy()
    served = predictor.predict_logits(
        np.stack([predictor.preprocess(Image.open(f).convert("RGB")) for f in files])
    )
    assert (eager.argmax(1) == served.argmax(1)).all()
    assert np.abs(softmax(eager) - softmax(served)).max() < 5e-3
