"""``export_run``: the steps from a run dir to a bundle directory (see the package docstring).

Imports torch only inside functions (through ``ml.train.checkpoint``); no Django.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml.bundle import (
    FEATURES_FILE,
    LOGITS_FILE,
    MODEL_FILE,
    REFERENCE_FILE,
    bundle_size,
    file_entry,
    write_card,
)
from ml.calibration import FeatureDensity, calibrate, fit_feature_density
from ml.export.card import build_card, metrics_summary
from ml.export.images import Outputs, RunData, load_run_data, run_outputs, run_session
from ml.export.onnx_graph import export_onnx, quantize_int8, store_float16
from ml.export.probes import folder_rates, source_bias
from ml.export.report import ExportError, ExportReport, Parity, QuantizationResult, parity

if TYPE_CHECKING:
    import onnxruntime as ort
    import torch

    from ml.train.prepare import TrainData

MAX_F1_DROP = 0.01
MIN_PARITY_AGREEMENT = 0.98
INT8_CALIBRATION_IMAGES = 128
DENSITY_IMAGES = 2000
DEFAULT_INTENDED_USE = (
    "Information about what a photo shows, for people curious about their skin and for teams "
    "building skin-analysis features. It is not a diagnosis and not a medical device: it can be "
    "wrong, it has not been clinically validated, and anything worrying belongs with a doctor."
)
Progress = Callable[[str], None]


@dataclass
class _Export:
    """State shared by the steps of one export."""

    task: str
    model: torch.nn.Module
    ckpt: dict[str, Any]
    run: RunData
    staging: Path
    tmp: Path
    progress: Progress


def export_run(
    run_dir: Path,
    out_dir: Path,
    *,
    task: str,
    quantize: bool = False,
    data: TrainData | None = None,
    ood_data: Sequence[Path] = (),
    probe_data: Sequence[Path] = (),
    intended_use: str = DEFAULT_INTENDED_USE,
    data_licence: str = "not stated by the dataset owner",
    notes: Sequence[str] = (),
    checkpoint: str = "best",
    progress: Progress | None = None,
) -> ExportReport:
    """Write the bundle of ``run_dir``'s ``checkpoint`` (best.pt) into ``out_dir``, replacing it
    only once everything succeeded. ``data`` is where the run's images are (default: the source
    folders the run recorded); ``ood_data`` are folders of photos the model should not know, and
    ``probe_data`` folders of related photos (e.g. another source) whose predictions are
    recorded to show what the model does with them."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ml-export-") as tmp:
        job = _prepare(Path(run_dir), task, data, checkpoint, Path(tmp), progress)
        card, parts = _build(job, quantize, ood_data, probe_data)
        card.update(intended_use=intended_use, data_licence=data_licence, notes=list(notes))
        card["files"] = {p.name: file_entry(p) for p in sorted(job.staging.iterdir())}
        written = write_card(job.staging, card)
        _replace_dir(job.staging, Path(out_dir))
    return ExportReport(
        out_dir=str(out_dir),
        task=task,
        bundle_bytes=bundle_size(Path(out_dir)),
        files={p.name: p.stat().st_size for p in sorted(Path(out_dir).iterdir())},
        seconds=time.perf_counter() - started,
        card=written,
        **parts,
    )


def _prepare(
    run_dir: Path,
    task: str,
    data: TrainData | None,
    checkpoint: str,
    tmp: Path,
    progress: Progress | None,
) -> _Export:
    from ml.train.checkpoint import model_from_checkpoint, read_checkpoint

    path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not path.is_file():
        raise ExportError(f"{path} is missing; is {run_dir} a finished training run?")
    model, info = model_from_checkpoint(path)
    run = load_run_data(run_dir, info.classes, info.eval_transform, data)
    staging = tmp / "bundle"
    staging.mkdir()
    say = progress or (lambda message: None)
    return _Export(task, model, read_checkpoint(path), run, staging, tmp, say)


def _session(path: Path) -> ort.InferenceSession:
    from ml.inference import make_session

    return make_session(path)


def _eager_and_served(
    model: torch.nn.Module, session: ort.InferenceSession, batches: Iterator[np.ndarray]
) -> tuple[np.ndarray, Outputs]:
    import torch

    name, eager, served = session.get_inputs()[0].name, [], []
    with torch.inference_mode():
        for batch in batches:
            eager.append(model(torch.from_numpy(batch)).float().numpy())
            served.append(session.run(None, {name: batch}))
    logits, features = (np.concatenate([s[i] for s in served]) for i in (0, -1))
    return np.concatenate(eager), Outputs(logits, features)


def _build(
    job: _Export, quantize: bool, ood_data: Sequence[Path], probe_data: Sequence[Path]
) -> tuple[dict[str, Any], dict[str, Any]]:
    run = job.run
    job.progress("exporting to ONNX")
    fp32 = job.tmp / "float32.onnx"
    export_onnx(job.model, fp32, run.transform.size)
    store_float16(fp32, job.staging / MODEL_FILE)
    session = _session(job.staging / MODEL_FILE)
    job.progress(f"checking parity with PyTorch on {len(run.val.keys)} validation images")
    eager_val, val = _eager_and_served(job.model, session, run.batches(run.val.records))
    served_parity = parity(eager_val, val.logits, "val")
    _check_parity(served_parity, "the float16-weight ONNX graph")
    job.progress(f"scoring the held-out test split ({len(run.test.keys)} images)")
    test = run_outputs(session, run.batches(run.test.records))
    quant = None
    if quantize:
        quant, session = _try_int8(job, fp32, session, eager_val, test.logits)
        if quant.kept:
            val = run_outputs(session, run.batches(run.val.records))
            test = run_outputs(session, run.batches(run.test.records))
            served_parity = quant.int8_parity
    density = _fit_density(job, session)
    calibration = calibrate(val.logits, run.val.labels, test.logits, run.test.labels)
    card = build_card(
        task=job.task, run=run, ckpt=job.ckpt, calibration=calibration,
        served_parity=served_parity, eager_val=eager_val, outputs={"val": val, "test": test},
        density=density, quant=quant,
    )  # fmt: skip
    _measure(job, card, session, density, ood_data, probe_data)
    _save_arrays(job.staging, run, val.logits, test.logits, density)
    parts = {
        "parity": served_parity,
        "calibration": calibration,
        "test_metrics": card["metrics"]["test"],
        "quantization": quant,
    }
    return card, parts


def _fit_density(job: _Export, session: ort.InferenceSession) -> FeatureDensity:
    records = job.run.train_records(DENSITY_IMAGES)
    job.progress(f"fitting the feature density on {len(records)} training images")
    train = run_outputs(session, job.run.batches(records))
    return fit_feature_density(train.features, train.logits.argmax(1))


def _measure(
    job: _Export,
    card: dict[str, Any],
    session: ort.InferenceSession,
    density: FeatureDensity,
    ood_data: Sequence[Path],
    probe_data: Sequence[Path],
) -> None:
    """Out-of-distribution and probe folders; the photo-source check for multi-source data."""
    job.progress("measuring out-of-distribution flags and probe folders")
    unc = card["uncertainty"]
    common = {"session": session, "run": job.run, "uncertainty": unc, "density": density}
    temperature = card["calibration"]["temperature"]
    unc["out_of_distribution_sets"] = folder_rates(
        temperature=temperature, folders=ood_data, **common
    )
    card["probe_sets"] = folder_rates(temperature=temperature, folders=probe_data, **common)
    if len(job.run.index.sources) > 1:
        job.progress("measuring how far predictions follow the photo source")
        card["source_bias"] = source_bias(session, job.run)


def _check_parity(result: Parity, what: str) -> None:
    if result.top1_agreement < MIN_PARITY_AGREEMENT:
        raise ExportError(
            f"{what} agrees with PyTorch on only {result.top1_agreement:.1%} of the "
            f"{result.n} validation images (max probability difference "
            f"{result.max_prob_diff:.3f}); refusing to write a bundle that differs"
        )


def _try_int8(
    job: _Export,
    fp32: Path,
    float_session: ort.InferenceSession,
    eager_val: np.ndarray,
    float_test: np.ndarray,
) -> tuple[QuantizationResult, ort.InferenceSession]:
    """Quantise, score on the test split, keep int8 only within MAX_F1_DROP of float."""
    run = job.run
    job.progress("trying int8 static quantisation (calibrated on training images)")
    calibration = list(run.batches(run.train_records(INT8_CALIBRATION_IMAGES)))
    int8 = job.tmp / "int8.onnx"
    quantize_int8(fp32, int8, calibration, job.tmp)
    session = _session(int8)
    int8_val = run_session(session, run.batches(run.val.records))
    int8_test = run_session(session, run.batches(run.test.records))
    f1_float = metrics_summary(run.test.labels, float_test, run.classes)["macro_f1"]
    f1_int8 = metrics_summary(run.test.labels, int8_test, run.classes)["macro_f1"]
    kept = f1_int8 >= f1_float - MAX_F1_DROP
    result = QuantizationResult(
        kept=kept,
        reason=f"held-out test macro F1 {f1_int8:.4f} (int8) vs {f1_float:.4f} (float): "
        f"{'within' if kept else 'more than'} {MAX_F1_DROP * 100:.0f} point of float",
        float_macro_f1=f1_float,
        int8_macro_f1=f1_int8,
        float_bytes=(job.staging / MODEL_FILE).stat().st_size,
        int8_bytes=int8.stat().st_size,
        int8_parity=parity(eager_val, int8_val, "val"),
        calibration_images=sum(len(b) for b in calibration),
    )
    if not kept:
        return result, float_session
    (job.staging / MODEL_FILE).rename(job.staging / REFERENCE_FILE)
    shutil.copyfile(int8, job.staging / MODEL_FILE)
    return result, session


def _save_arrays(
    staging: Path,
    run: RunData,
    val_logits: np.ndarray,
    test_logits: np.ndarray,
    density: FeatureDensity,
) -> None:
    """The served model's held-out logits (and file keys, not images): thresholds, ECE and the
    card's metrics can be re-checked from the bundle alone; and the feature density."""
    np.savez_compressed(
        staging / LOGITS_FILE,
        classes=np.array(run.classes),
        val_logits=val_logits.astype(np.float32),
        val_labels=run.val.labels,
        val_keys=np.array(run.val.keys),
        test_logits=test_logits.astype(np.float32),
        test_labels=run.test.labels,
        test_keys=np.array(run.test.keys),
    )
    np.savez_compressed(staging / FEATURES_FILE, **density.arrays())


def _replace_dir(staging: Path, out_dir: Path) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    old = out_dir.with_name(f".{out_dir.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        out_dir.rename(old)
    shutil.copytree(staging, out_dir)
    if old.exists():
        shutil.rmtree(old)
