"""Datasets: scan a folder-per-class dir or zip, validate it, clean it, split it, map labels.

Pure Python + Pillow + numpy; must not import torch or Django (the web process may use it).
"""

from __future__ import annotations

from ml.data.clean import CleanSummary, clean
from ml.data.index import DatasetError, DatasetIndex, ImageRecord, Source, concat, scan
from ml.data.inspect import ImageInfo, inspect_images
from ml.data.labels import (
    ACNE_CLEAR_CLASS,
    ACNE_SEED_MAPPING,
    DataSpec,
    LabelMapping,
    SourceSpec,
    acne_seed_spec,
)
from ml.data.splits import SPLIT_NAMES, Splits, split
from ml.data.validation import Finding, ValidationReport, ValidationSettings, validate

__all__ = [
    "ACNE_CLEAR_CLASS",
    "ACNE_SEED_MAPPING",
    "SPLIT_NAMES",
    "CleanSummary",
    "DataSpec",
    "DatasetError",
    "DatasetIndex",
    "Finding",
    "ImageInfo",
    "ImageRecord",
    "LabelMapping",
    "Source",
    "SourceSpec",
    "Splits",
    "ValidationReport",
    "ValidationSettings",
    "acne_seed_spec",
    "clean",
    "concat",
    "inspect_images",
    "scan",
    "split",
    "validate",
]
