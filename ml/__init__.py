"""SkinPlatform's machine-learning engine: datasets, models, training, metrics and a CLI.

Pure Python + PyTorch. Never imports Django, never reads settings; importing ``ml`` (or the
torch-free ``ml.data``, ``ml.metrics``, ``ml.train`` front doors) does not import torch.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
