"""Photo quality gate: blurred, too dark, too bright, too small, and (for face tasks) no face.

Thresholds were set on ../shared/data: real photos against the same photos blurred or darkened
(see tests/analysis/test_quality.py and README). Errors cannot be overridden; warnings can.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache

import numpy as np
from PIL import Image

MIN_SIDE_ERROR = 64
MIN_SIDE_WARNING = 128
BLUR_WARNING = 12.0  # variance of the Laplacian at <= 512 px; real photos: 1st percentile >= 17
DARK_ERROR, DARK_WARNING = 15.0, 50.0  # mean luminance 0..255
BRIGHT_WARNING, BRIGHT_ERROR = 225.0, 250.0


@dataclass(frozen=True)
class Finding:
    code: str
    message: str


@dataclass
class QualityReport:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings

    def to_dict(self) -> dict:
        return asdict(self)


def assess(image: Image.Image, *, needs_face: bool) -> QualityReport:
    import cv2

    report = QualityReport()
    small = image.copy()
    small.thumbnail((512, 512))
    gray = np.asarray(small.convert("L"))
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    brightness = float(gray.mean())
    report.measures = {
        "sharpness": round(sharpness, 1),
        "brightness": round(brightness, 1),
        "min_side": min(image.size),
    }
    _size(report, min(image.size))
    _light(report, brightness)
    if sharpness < BLUR_WARNING:
        report.warnings.append(
            Finding(
                "blurred",
                "The photo looks blurred. Hold the camera still, tap the skin to focus, "
                "and take it again in good light.",
            )
        )
    if needs_face and not report.errors and not _has_face(gray):
        report.warnings.append(
            Finding(
                "no_face",
                "We could not find a face. For this analysis use a photo of your face, "
                "looking at the camera, in even light. If it is a close-up of one area on "
                "purpose, you can analyse it anyway.",
            )
        )
    return report


def _size(report: QualityReport, side: int) -> None:
    if side < MIN_SIDE_ERROR:
        report.errors.append(
            Finding(
                "too_small",
                f"The photo is only {side} pixels across; we need at least "
                f"{MIN_SIDE_ERROR}. Use the original photo, not a thumbnail.",
            )
        )
    elif side < MIN_SIDE_WARNING:
        report.warnings.append(
            Finding(
                "small",
                f"The photo is small ({side} pixels across), so details may be lost. A "
                "larger, closer photo gives a more reliable result.",
            )
        )


def _light(report: QualityReport, brightness: float) -> None:
    if brightness < DARK_ERROR:
        report.errors.append(
            Finding(
                "too_dark", "The photo is almost black. Take it again in daylight or under a lamp."
            )
        )
    elif brightness < DARK_WARNING:
        report.warnings.append(
            Finding(
                "dark",
                "The photo is too dark to see the skin well. Face a window or turn on a "
                "light, avoid the flash glare, and take it again.",
            )
        )
    elif brightness > BRIGHT_ERROR:
        report.errors.append(
            Finding(
                "too_bright",
                "The photo is almost white. Move out of direct light or turn off the "
                "flash and take it again.",
            )
        )
    elif brightness > BRIGHT_WARNING:
        report.warnings.append(
            Finding(
                "bright",
                "The photo is too bright (washed out). Avoid direct sunlight and flash "
                "glare, and take it again.",
            )
        )


@cache
def _cascades() -> tuple:
    import cv2

    root = cv2.data.haarcascades
    return tuple(
        cv2.CascadeClassifier(root + name)
        for name in (
            "haarcascade_frontalface_default.xml",
            "haarcascade_profileface.xml",
            "haarcascade_eye.xml",
        )
    )


def _has_face(gray: np.ndarray) -> bool:
    import cv2

    img = gray
    if max(img.shape) > 320:
        scale = 320 / max(img.shape)
        img = cv2.resize(
            img,
            (int(img.shape[1] * scale), int(img.shape[0] * scale)),
            interpolation=cv2.INTER_AREA,
        )
    img = cv2.equalizeHist(img)
    size = max(24, int(min(img.shape) * 0.15))
    frontal, profile, eye = _cascades()
    for cascade, neighbours, min_size in (
        (frontal, 5, size),
        (profile, 5, size),
        (eye, 6, max(12, size // 3)),
    ):
        if len(
            cascade.detectMultiScale(
                img, scaleFactor=1.1, minNeighbors=neighbours, minSize=(min_size, min_size)
            )
        ):
            return True
    return False
