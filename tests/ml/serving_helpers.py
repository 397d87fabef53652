"""Shared artefacts for the serving tests (export, inference, Grad-CAM, bundles), built once per
test process: a real (tiny) training run through ml.train on generated images, and its bundle
exported by ml.export. Imported explicitly; this is not a conftest."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.ml.helpers import jpeg_bytes, make_dataset

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("blue", "green", "red")
DEFAULT_BUNDLES = {
    "lesions": ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"),
    "acne-severity": ("clear", "mild_moderate", "severe"),
    "facial": ("clear_skin", "dark_spots", "puffy_eyes", "wrinkles"),
}


@functools.cache
def workdir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ml-serving-tests-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def tiny_run() -> Path:
    """A finished run dir: pretrained MobileNetV2, 128 px, 3 colour classes, 3 head epochs."""
    from ml.train import TrainConfig, train

    os.environ.setdefault("SKIN_ML_OFFLINE", "1")
    counts = {"red": 20, "green": 20, "blue": 20}
    data = make_dataset(workdir() / "data", counts, size=144)
    cfg = TrainConfig(
        pretrained=True,
        image_size=128,
        batch_size=16,
        frozen_epochs=3,
        finetune_epochs=0,
        lr=0.01,
        val_fraction=0.2,
        test_fraction=0.2,
        patience=0,
        threads=2,
    )
    result = train(cfg, data, on_event=lambda event: None, run_dir=workdir() / "run")
    assert result.status == "finished", result
    return workdir() / "run"


def ood_folder() -> Path:
    """Twelve images no colour class looks like: grey checkerboards and stripes."""
    folder = workdir() / "ood"
    if not folder.is_dir():
        folder.mkdir()
        for i in range(12):
            board = (np.indices((80, 80)).sum(0) // (4 + i) % 2 * 200 + 20).astype(np.uint8)
            image = Image.fromarray(np.stack([board] * 3, axis=-1))
            (folder / f"pattern_{i}.jpg").write_bytes(jpeg_bytes(image))
    return folder


@functools.cache
def tiny_bundle() -> Path:
    from ml.export import export_run

    out = workdir() / "bundle"
    export_run(tiny_run(), out, task="colours", ood_data=[ood_folder()], data_licence="generated")
    return out


def copy_bundle(target: Path) -> Path:
    """A private copy of the tiny bundle, for tests that break it."""
    return Path(shutil.copytree(tiny_bundle(), target / "bundle"))


def colour_image(name: str, size: tuple[int, int] = (180, 150), seed: int = 1) -> Image.Image:
    """A fresh image of a colour class: the training recipe with new noise, cropped (not
    resized, so the noise keeps the grain the model learned; keep the shorter side near 146)."""
    from tests.ml.helpers import COLOURS, make_image

    rng = np.random.default_rng(seed)
    image = make_image(rng, COLOURS[["red", "green", "blue"].index(name)], max(size))
    return image.crop((0, 0, *size))
