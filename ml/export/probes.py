"""Measurements beyond the test metrics: how often out-of-distribution photos are flagged, and how
far predictions follow the photo source rather than the skin. Pillow + numpy + onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

from ml.calibration import FeatureDensity, energy_score
from ml.export.card import flags
from ml.export.images import Alter, RunData, file_batches, image_files, run_outputs, run_session
from ml.export.report import ExportError

if TYPE_CHECKING:
    import onnxruntime as ort


def folder_rates(
    session: ort.InferenceSession, run: RunData, uncertainty: dict[str, Any], temperature: float,
    density: FeatureDensity, folders: Sequence[Path],
) -> list[dict[str, Any]]:  # fmt: skip
    """Per folder (up to 200 photos each): the share flagged out of distribution (by either
    score, and by energy alone), flagged at all, and the share of each predicted class."""
    out = []
    for folder in folders:
        files = image_files(Path(folder))
        if not files:
            raise ExportError(f"{folder}: no images to measure the model on")
        outputs = run_outputs(session, file_batches(files, run.transform))
        low, ood = flags(outputs, temperature, uncertainty, density)
        energy = energy_score(outputs.logits) > uncertainty["ood_threshold"]
        out.append(
            {
                "data": str(folder),
                "n": len(files),
                "out_of_distribution_rate": float(ood.mean()),
                "energy_only_rate": float(energy.mean()),
                "uncertain_rate": float((ood | low).mean()),
                "predicted_share": _shares(outputs.logits.argmax(1), run.classes),
            }
        )
    return out


def _blur(radius: float) -> Alter:
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius))


def _greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def _centre_patch(image: Image.Image) -> Image.Image:
    """The central half of each side (a quarter of the area), scaled back up: skin without the
    background, framing or borders that tell one photo source from another."""
    w, h = image.size
    return image.crop((w // 4, h // 4, w - w // 4, h - h // 4)).resize((w, h), Image.BILINEAR)


def source_bias(session: ort.InferenceSession, run: RunData) -> dict[str, Any]:
    """Prediction shares on the test split per source folder, for the plain images, images
    blurred until small lesions disappear (context kept, skin detail gone), greyscale, and the
    central skin patch (skin kept, context gone). A model that reads the skin moves blurred acne
    faces towards the no-lesion class and keeps its answer on patches; one that reads the photo
    source (camera, framing, background, who is photographed) does the opposite."""
    radius = run.transform.size / 40
    variants: dict[str, Alter | None] = {
        "plain": None,
        "blurred": _blur(radius),
        "greyscale": _greyscale,
        "centre_patch": _centre_patch,
    }
    records = run.test.records
    predicted = {
        name: run_session(session, run.batches(records, alter)).argmax(1)
        for name, alter in variants.items()
    }
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(f"{run.index.sources[record.source].name}/{record.folder}", []).append(i)
    table = {
        group: {"n": len(members)}
        | {name: _shares(pred[members], run.classes) for name, pred in predicted.items()}
        for group, members in sorted(groups.items())
    }
    return {
        "split": "test",
        "single_source_classes": _single_source_classes(run, predicted),
        "blur_radius_px": radius,
        "method": "share of each predicted class per source folder: plain, Gaussian-blurred "
        "(radius image_size/40 on the resized photo), greyscale, central patch (half of each "
        "side, scaled back up)",
        "prediction_share_by_source_folder": table,
    }


def _single_source_classes(run: RunData, predicted: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """For each class whose photos all come from one source that holds nothing else (ACNE04 has
    no clear skin, so ``clear`` is another camera's photos): how often the model gives that
    class to its own source's test photos and to the other sources', per image variant."""
    sources = np.array([r.source for r in run.test.records])
    labels = run.test.labels
    out = []
    for k, name in enumerate(run.classes):
        own = set(sources[labels == k].tolist())
        if len(own) != 1 or set(labels[sources == next(iter(own))].tolist()) != {k}:
            continue
        mine = sources == next(iter(own))
        out.append(
            {
                "class": name,
                "source": run.index.sources[next(iter(own))].name,
                "n_source": int(mine.sum()),
                "n_other": int((~mine).sum()),
                "source_photos_called_class": {
                    v: round(float(np.mean(p[mine] == k)), 4) for v, p in predicted.items()
                },
                "other_photos_called_class": {
                    v: round(float(np.mean(p[~mine] == k)), 4) for v, p in predicted.items()
                },
            }
        )
    return out


def _shares(predicted: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    counts = np.bincount(predicted, minlength=len(classes))
    total = max(len(predicted), 1)
    return {c: round(float(n) / total, 4) for c, n in zip(classes, counts, strict=True)}
