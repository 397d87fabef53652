"""``python -m ml export RUN_DIR --task T --out DIR``: the export sub-command, plugged into
``ml.cli``'s sub-parsers by ``add_export_command``; ``python -m ml.export`` runs it alone.
No Django."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ml.export.report import ExportReport
from ml.export.run import DEFAULT_INTENDED_USE, export_run


def add_export_command(sub: Any) -> None:
    e = sub.add_parser("export", help="export a training run to a model bundle (ONNX + card)")
    e.add_argument("run_dir", type=Path)
    e.add_argument("--task", required=True, help="task slug: lesions, acne-severity, facial...")
    e.add_argument("--out", type=Path, required=True, help="bundle directory (replaced)")
    e.add_argument("--quantize", action="store_true", help="try int8, kept within 1 F1 point")
    e.add_argument(
        "--data", action="append", default=[], type=Path,
        help="where the run's images are, one folder per source "
        "(default: the folders the run recorded)",
    )  # fmt: skip
    e.add_argument(
        "--ood", action="append", default=[], type=Path, metavar="DIR",
        help="a folder of out-of-distribution photos to measure the flag rate on (repeatable)",
    )  # fmt: skip
    e.add_argument(
        "--probe", action="append", default=[], type=Path, metavar="DIR",
        help="a folder of related photos (e.g. another source) to record predictions on",
    )  # fmt: skip
    e.add_argument("--licence", default="not stated by the dataset owner", help="data licence")
    e.add_argument("--intended-use", default=DEFAULT_INTENDED_USE)
    e.add_argument("--note", action="append", default=[], help="a caveat for the card")
    e.add_argument("--checkpoint", default="best", choices=["best", "last"])
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(func=run_export_command)


def run_export_command(args: argparse.Namespace) -> int:
    from ml.export.images import index_of_folders

    report = export_run(
        args.run_dir,
        args.out,
        task=args.task,
        quantize=args.quantize,
        data=index_of_folders(args.data) if args.data else None,
        ood_data=args.ood,
        probe_data=args.probe,
        intended_use=args.intended_use,
        data_licence=args.licence,
        notes=args.note,
        checkpoint=args.checkpoint,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        print(summary(report))
    return 0


def summary(report: ExportReport) -> str:
    cal, par, m = report.calibration, report.parity, report.test_metrics
    lines = [
        f"{report.out_dir}: {report.bundle_bytes / 1e6:.2f} MB {report.files}",
        f"parity (val, n={par.n}): top-1 agreement {par.top1_agreement:.4f}, "
        f"max probability difference {par.max_prob_diff:.2e}",
        f"temperature {cal.temperature:.3f}; test ECE {cal.ece_before:.4f} -> {cal.ece_after:.4f}",
        f"test (n={m['n']}): accuracy {m['accuracy']:.3f}, balanced accuracy "
        f"{m['balanced_accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}",
    ]
    if report.quantization is not None:
        verdict = "kept" if report.quantization.kept else "not kept"
        lines.append(f"int8 {verdict}: {report.quantization.reason}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.export")
    add_export_command(parser.add_subparsers(required=True, dest="command"))
    args = parser.parse_args(["export", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))
