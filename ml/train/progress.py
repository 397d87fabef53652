"""Terminal rendering of training events: tqdm bars on a TTY, one line per epoch otherwise.

No torch, no Django.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from ml.train.events import BatchProgress, EpochEnd, Event, LogLine, TrainResult


class ProgressPrinter:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._bar: Any = None
        self._bar_key: tuple[str, str, int] | None = None

    def event(self, event: Event) -> None:
        if isinstance(event, BatchProgress):
            self._batch(event)
        elif isinstance(event, EpochEnd):
            self._write(_epoch_line(event))
        elif isinstance(event, LogLine):
            self._write(f"[{event.level}] {event.message}")
        elif event.kind in ("failed", "cancelled"):
            self._write(f"{event.kind}: {event.to_dict()}")

    def simple(self, label: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback drawing one bar."""

        def progress(done: int, total: int) -> None:
            self._update((label, label, 0), total, done, None)

        return progress

    def _batch(self, e: BatchProgress) -> None:
        self._update((e.stage, e.phase, e.epoch), e.total_steps, e.step, e.loss)

    def _update(self, key: tuple[str, str, int], total: int, done: int, loss: float | None) -> None:
        if not self.tty:
            return
        from tqdm import tqdm

        if key != self._bar_key:
            self.close()
            self._bar = tqdm(total=total, desc=_describe(key), file=self.stream, leave=False)
            self._bar_key = key
        self._bar.n = done
        if loss is not None:
            self._bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self._bar.refresh()

    def _write(self, line: str) -> None:
        self.close()
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar, self._bar_key = None, None

    @staticmethod
    def summary(result: TrainResult) -> str:
        lines = [
            f"{result.status}: {result.epochs_completed} epoch(s), {result.seconds / 60:.1f} min; "
            f"best epoch {result.best_epoch} ({result.metric} {result.best_value})",
            f"run dir: {result.run_dir}",
        ]
        for name, m in (("val", result.val), ("test", result.test), ("test+TTA", result.test_tta)):
            if m is not None:
                lines.append(
                    f"{name:>9}: accuracy {m.accuracy:.3f}  balanced accuracy "
                    f"{m.balanced_accuracy:.3f}  macro F1 {m.macro_f1:.3f}  (n={m.n})"
                )
        return "\n".join(lines)


def _describe(key: tuple[str, str, int]) -> str:
    stage, phase, epoch = key
    if phase == "train":
        return f"epoch {epoch} ({stage})"
    return {"prepare": "reading images", "features": "features", "eval": "evaluating"}.get(
        phase, phase
    )


def _epoch_line(e: EpochEnd) -> str:
    val = e.val
    text = (
        f"epoch {e.epoch}/{e.total_epochs} [{e.stage}] loss {e.train.loss:.3f} "
        f"train acc {e.train.accuracy:.3f}"
    )
    if val is not None:
        text += (
            f" | val acc {val.accuracy:.3f} bal {val.balanced_accuracy:.3f} F1 {val.macro_f1:.3f}"
        )
    best = " *" if e.is_best else ""
    return f"{text} | {e.images_per_s:.0f} img/s, {e.seconds:.0f} s{best}"
