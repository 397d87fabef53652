"""Command line: ``python -m ml validate | train | evaluate``. No Django; torch only when training
or evaluating. Progress bars (tqdm) only when stderr is a terminal, plain lines otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ml.data import DatasetIndex, LabelMapping, SourceSpec, concat, validate
from ml.export import add_export_command
from ml.train import TrainConfig
from ml.train.progress import ProgressPrinter


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__)
    sub = parser.add_subparsers(required=True, dest="command")
    v = sub.add_parser(
        "validate", help="report problems in a folder-per-class dataset (dir or zip)"
    )
    v.add_argument("path", type=Path)
    v.add_argument("--group-csv", type=Path)
    v.add_argument("--json", action="store_true", help="print the report as one JSON object")
    v.set_defaults(func=_validate)
    t = sub.add_parser("train", help="train a classifier; writes a run dir")
    _data_args(t)
    t.add_argument("--config", type=Path, help="TrainConfig as JSON")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value (VALUE parsed as JSON, else a string)",
    )
    t.add_argument("--out", type=Path, help="run dir (default runs/ml-<time>)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="score a trained model on a dataset")
    e.add_argument("--model", type=Path, required=True, help="run dir or checkpoint (.pt)")
    _data_args(e)
    e.add_argument(
        "--split", choices=["train", "val", "test"], help="only this split of the run's splits.json"
    )
    e.add_argument(
        "--tta",
        choices=["none", "hflip", "dihedral"],
        default="none",
        help="average logits over flipped (and, dihedral, rotated) views",
    )
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_evaluate)
    add_export_command(sub)  # python -m ml export (ml.export)
    return parser


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[CLASS=]PATH",
        help="folder-per-class dir or zip; CLASS=PATH adds a flat folder as one class; "
        "repeat to combine sources",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rename/merge class OLD into NEW (empty NEW drops it); repeatable",
    )
    p.add_argument("--group-csv", type=Path, help="CSV mapping image ids to groups (lesion_id)")
    p.add_argument("--group-column", default="lesion_id")
    p.add_argument("--id-column", default="image_id")


def load_data(args: argparse.Namespace) -> DatasetIndex:
    indexes = []
    for item in args.data:
        cls, sep, path = item.partition("=")
        if sep and not Path(item).exists():
            spec = SourceSpec(path=path, as_class=cls)
        else:
            spec = SourceSpec(
                path=item,
                group_csv=str(args.group_csv) if args.group_csv else None,
                group_column=args.group_column,
                id_column=args.id_column,
            )
        indexes.append(spec.load())
    index = indexes[0] if len(indexes) == 1 else concat(*indexes)
    rules = {}
    for item in args.map:
        old, sep, new = item.partition("=")
        if not sep:
            raise ValueError(f"--map expects OLD=NEW, got {item!r}")
        rules[old] = new or None
    return LabelMapping(rules).apply(index) if rules else index


def _validate(args: argparse.Namespace) -> int:
    printer = ProgressPrinter()
    report = validate(
        args.path, group_csv=args.group_csv, progress=printer.simple("checking images")
    )
    printer.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0 if report.ok else 1
    print(f"{report.root}: {report.num_images} usable images, {len(report.classes)} classes")
    for cls, n in report.class_counts.items():
        print(f"  {cls:<24} {n}")
    for f in report.findings:
        print(f"[{f.severity}] {f.code}: {f.message}\n    -> {f.suggestion}")
        shown = [" = ".join(g) for g in f.groups] if f.groups else list(f.examples)
        for example in shown[:5]:
            print(f"       {example}")
    return 0 if report.ok else 1


def _config(args: argparse.Namespace) -> TrainConfig:
    data: dict[str, Any] = json.loads(args.config.read_text()) if args.config else {}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            data[key] = json.loads(raw)
        except json.JSONDecodeError:
            data[key] = raw
    return TrainConfig.from_dict(data)


def _train(args: argparse.Namespace) -> int:
    from ml.train import train

    cfg = _config(args)
    out = args.out or Path("runs") / time.strftime("ml-%Y%m%d-%H%M%S")
    printer = ProgressPrinter()
    with _GracefulStop() as stop:
        result = train(
            cfg,
            load_data(args),
            on_event=printer.event,
            should_stop=stop,
            run_dir=out,
            resume=args.resume,
        )
    printer.close()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(printer.summary(result))
    return 0 if result.status == "finished" else 3


def _evaluate(args: argparse.Namespace) -> int:
    from ml.evaluate import evaluate

    printer = ProgressPrinter()
    result = evaluate(
        args.model,
        load_data(args),
        split=args.split,
        tta=args.tta,
        progress=printer.simple("evaluating"),
    )
    printer.close()
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    m = result.metrics
    where = f", {result.split} split" if result.split else ""
    print(f"{result.model} on {result.data} ({m.n} images{where})")
    print(
        f"accuracy {m.accuracy:.3f}  balanced accuracy {m.balanced_accuracy:.3f}  "
        f"macro F1 {m.macro_f1:.3f}  weighted F1 {m.weighted_f1:.3f}"
    )
    for cls, c in m.per_class.items():
        print(f"  {cls:<24} P {c.precision:.3f}  R {c.recall:.3f}  F1 {c.f1:.3f}  n {c.support}")
    return 0


class _GracefulStop:
    """First Ctrl-C asks the loop to stop after the current batch; the second one aborts.
    The previous SIGINT handler is restored on exit."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _GracefulStop:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)

    def __call__(self) -> bool:
        return self.requested
