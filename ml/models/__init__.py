"""Models: backbones with a dropout + linear head, and pretrained weight resolution.

Imports torch (the web process never imports this package); never imports Django.
"""

from __future__ import annotations

from ml.models.backbones import (
    BACKBONES,
    Backbone,
    BackboneSpec,
    SkinClassifier,
    build_model,
    normalization_for,
    spec_for,
    unfreeze_last,
)
from ml.models.weights import (
    PretrainedWeightsCorrupt,
    PretrainedWeightsError,
    PretrainedWeightsNotFound,
    resolve_weights,
)

__all__ = [
    "BACKBONES",
    "Backbone",
    "BackboneSpec",
    "PretrainedWeightsCorrupt",
    "PretrainedWeightsError",
    "PretrainedWeightsNotFound",
    "SkinClassifier",
    "build_model",
    "normalization_for",
    "resolve_weights",
    "spec_for",
    "unfreeze_last",
]
