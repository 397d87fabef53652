"""Export: a training run -> a model bundle (``ml.bundle``) with parity, calibration, OOD checks.

Worker/CLI side (torch, onnx, onnxruntime.quantization are imported inside the functions that
need them); never imports Django, and the web process never imports this package.

    report = export_run(Path("/work/runs/lesions"), Path("models/lesions"), task="lesions")

``export_run`` reads the run dir: ``checkpoints/best.pt`` (arch, classes, preprocessing, config,
dataset info), ``splits.json`` (file lists + the dataset's source folders) and
``val_logits.npz``/``test_logits.npz`` (keys, labels, the run's own PyTorch logits). It exports
the checkpoint to ONNX (weights stored float16, compute float32), checks parity with eager
PyTorch on the validation images, fits the temperature and the uncertainty thresholds on the
validation split, scores the served model on the held-out test split (metrics, ECE before and
after), optionally tries int8 static quantisation (kept only within 1 macro-F1 point of float),
measures how often out-of-distribution folders get flagged and, for multi-source datasets, how
far predictions follow the photo source; then writes ``model.onnx``, ``card.json`` and
``heldout_logits.npz``. Images come from the run's recorded source folders unless ``data`` is
given. ``python -m ml export RUN_DIR --task T --out DIR`` is the command-line form.
"""

from __future__ import annotations

from ml.export.cli import add_export_command
from ml.export.onnx_graph import export_onnx, quantize_int8, read_float_weights, store_float16
from ml.export.report import ExportError, ExportReport, Parity, QuantizationResult, parity
from ml.export.run import DEFAULT_INTENDED_USE, MAX_F1_DROP, export_run

__all__ = [
    "DEFAULT_INTENDED_USE",
    "MAX_F1_DROP",
    "ExportError",
    "ExportReport",
    "Parity",
    "QuantizationResult",
    "add_export_command",
    "export_onnx",
    "export_run",
    "parity",
    "quantize_int8",
    "read_float_weights",
    "store_float16",
]
