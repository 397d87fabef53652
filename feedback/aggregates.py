"""Read-only statistics for staff: per question of a questionnaire, over time, and per model,
where the accuracy people report (from "what is it really?" answers) sits beside the model's
held-out metrics. Never writes; the admin dashboard and the staff API render these dicts."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from feedback.models import Answer, Correction, Question, Questionnaire, Response
from training.models import ModelVersion

TEXT_SAMPLES = 10
HELD_OUT_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "n")


# ---------------------------------------------------------------- model keys
def model_key(*, model_version_id: int | None, task: str, card_sha: str) -> str:
    """One key per model that answered: a registry version, or a shipped default bundle (the
    hash of its card tells bundles of different releases apart)."""
    if model_version_id:
        return f"v{model_version_id}"
    return f"default:{task}:{(card_sha or 'unknown')[:12]}"


def _model_filter(key: str, prefix: str = "analysis__") -> Q:
    if key.startswith("v") and key[1:].isdigit():
        return Q(**{f"{prefix}model_version_id": int(key[1:])})
    parts = key.split(":")
    if len(parts) != 3 or parts[0] != "default":
        return Q(pk__in=[])
    q = Q(**{f"{prefix}model_version__isnull": True, f"{prefix}task": parts[1]})
    if parts[2] == "unknown":
        return q & Q(**{f"{prefix}model_card_sha": ""})
    return q & Q(**{f"{prefix}model_card_sha__startswith": parts[2]})


# ---------------------------------------------------------------- responses
def responses_for(
    *,
    questionnaire: Questionnaire,
    since: datetime | None = None,
    until: datetime | None = None,
    model: str = "",
) -> QuerySet[Response]:
    qs = Response.objects.filter(questionnaire=questionnaire)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if model:
        qs = qs.filter(_model_filter(model))
    return qs


def questionnaire_aggregates(
    *,
    questionnaire: Questionnaire,
    since: datetime | None = None,
    until: datetime | None = None,
    model: str = "",
) -> dict[str, Any]:
    responses = responses_for(questionnaire=questionnaire, since=since, until=until, model=model)
    answers = Answer.objects.filter(response__in=responses)
    questions = list(questionnaire.questions.order_by("order", "pk"))
    return {
        "questionnaire": {
            "id": questionnaire.pk,
            "title": questionnaire.title,
            "version": questionnaire.version,
            "target": questionnaire.target,
        },
        "responses": responses.count(),
        "questions": [_question_stats(q, answers.filter(question=q)) for q in questions],
    }


def _question_stats(question: Question, answers: QuerySet[Answer]) -> dict[str, Any]:
    base = {"key": question.key, "text": question.text, "kind": question.kind}
    if question.kind == Question.Kind.RATING:
        return {**base, **_rating_stats(answers)}
    if question.kind == Question.Kind.TEXT:
        latest = answers.order_by("-response__updated_at", "-pk")[:TEXT_SAMPLES]
        return {**base, "answered": answers.count(), "latest": [a.text for a in latest]}
    values = list(answers.values_list("choices", flat=True))
    counts: Counter[str] = Counter(v for chosen in values for v in chosen)
    if question.kind == Question.Kind.CORRECTION:
        return {**base, "answered": len(values), **_correction_stats(answers)}
    order = question.choice_list + sorted(set(counts) - set(question.choice_list))
    return {
        **base,
        "answered": len(values),
        "choices": [
            {"value": c, "count": counts.get(c, 0), "share": _share(counts.get(c, 0), len(values))}
            for c in order
        ],
    }


def _rating_stats(answers: QuerySet[Answer]) -> dict[str, Any]:
    rows = dict(
        answers.exclude(rating=None)
        .values("rating")
        .annotate(n=Count("pk"))
        .values_list("rating", "n")
    )
    n = sum(rows.values())
    mean = sum(r * c for r, c in rows.items()) / n if n else None
    return {
        "answered": n,
        "mean": round(mean, 3) if mean is not None else None,
        "distribution": {str(r): rows.get(r, 0) for r in range(1, 6)},
    }


def _correction_stats(answers: QuerySet[Answer]) -> dict[str, Any]:
    corrections = Correction.objects.filter(answer__in=answers)
    verdicts = dict(
        corrections.values("verdict").annotate(n=Count("pk")).values_list("verdict", "n")
    )
    classes = dict(
        corrections.exclude(corrected_class="")
        .values("corrected_class")
        .annotate(n=Count("pk"))
        .values_list("corrected_class", "n")
    )
    agreed = verdicts.get(Correction.Verdict.CONFIRMED, 0)
    judged = agreed + verdicts.get(Correction.Verdict.CORRECTED, 0)
    judged += verdicts.get(Correction.Verdict.OTHER, 0)
    return {
        "verdicts": {v: verdicts.get(v, 0) for v in Correction.Verdict.values},
        "classes": dict(sorted(classes.items())),
        "reported_accuracy": _share(agreed, judged),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- over time
BUCKETS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def responses_over_time(
    *,
    questionnaire: Questionnaire,
    since: datetime | None = None,
    until: datetime | None = None,
    model: str = "",
    bucket: str = "week",
) -> list[dict[str, Any]]:
    """Responses per period and the mean of each rating question, oldest first."""
    trunc = BUCKETS.get(bucket, TruncWeek)
    responses = responses_for(questionnaire=questionnaire, since=since, until=until, model=model)
    counts = (
        responses.annotate(period=trunc("created_at"))
        .values("period")
        .annotate(n=Count("pk"))
        .order_by("period")
    )
    periods: dict[str, dict[str, Any]] = {
        row["period"].date().isoformat(): {
            "period": row["period"].date().isoformat(),
            "responses": row["n"],
            "ratings": {},
        }
        for row in counts
    }
    means = (
        Answer.objects.filter(response__in=responses, question__kind=Question.Kind.RATING)
        .annotate(period=trunc("response__created_at"))
        .values("period", "question__key")
        .annotate(mean=Avg("rating"))
        .order_by("period")
    )
    for row in means:
        period = periods.get(row["period"].date().isoformat())
        if period is not None and row["mean"] is not None:
            period["ratings"][row["question__key"]] = round(row["mean"], 3)
    return list(periods.values())


# ---------------------------------------------------------------- per model
@dataclass
class ModelAccuracy:
    key: str
    task: str
    label: str
    model_version_id: int | None
    is_production: bool
    judged: int = 0  # corrections that say right or wrong (not "I don't know")
    agreed: int = 0
    corrected: int = 0
    other: int = 0
    unknown: int = 0
    reported_accuracy: float | None = None
    interval: tuple[float, float] | None = None  # Wilson 95 %
    held_out: dict[str, Any] = field(default_factory=dict)
    held_out_source: str = ""  # "registry (test split)", "model card (test split)" or ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = list(self.interval) if self.interval else None
        data["held_out"] = {k: self.held_out.get(k) for k in HELD_OUT_KEYS}
        return data


def wilson_interval(agreed: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = agreed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def model_accuracy() -> list[ModelAccuracy]:
    """One row per model that has corrections, plus every production model (the registry's, or
    the shipped default of a task without one), production first, then by task and label."""
    rows: dict[str, ModelAccuracy] = {}
    _add_corrections(rows)
    _add_registry(rows)
    _add_defaults(rows)
    for row in rows.values():
        row.judged = row.agreed + row.corrected + row.other
        row.reported_accuracy = _share(row.agreed, row.judged)
        row.interval = wilson_interval(row.agreed, row.judged)
    return sorted(rows.values(), key=lambda r: (not r.is_production, r.task, r.label))


def _add_corrections(rows: dict[str, ModelAccuracy]) -> None:
    counts = (
        Correction.objects.values(
            "task", "model_version_id", "model_label", "model_card_sha", "verdict"
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    for c in counts:
        key = model_key(
            model_version_id=c["model_version_id"], task=c["task"], card_sha=c["model_card_sha"]
        )
        row = rows.setdefault(
            key,
            ModelAccuracy(
                key=key,
                task=c["task"],
                label=c["model_label"],
                model_version_id=c["model_version_id"],
                is_production=False,
            ),
        )
        attr = {
            Correction.Verdict.CONFIRMED: "agreed",
            Correction.Verdict.CORRECTED: "corrected",
            Correction.Verdict.OTHER: "other",
            Correction.Verdict.UNKNOWN: "unknown",
        }[c["verdict"]]
        setattr(row, attr, getattr(row, attr) + c["n"])


def _held_out(metrics: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The held-out figures of a metrics dict: its test split, else validation."""
    metrics = metrics or {}
    for split in (metrics.get("split"), "test", "val"):
        values = metrics.get(split) if split else None
        if isinstance(values, dict) and values.get("accuracy") is not None:
            return {k: values[k] for k in HELD_OUT_KEYS if values.get(k) is not None}, split
    if metrics.get("accuracy") is not None:
        return {k: metrics[k] for k in HELD_OUT_KEYS if metrics.get(k) is not None}, "held-out"
    return {}, ""


def _add_registry(rows: dict[str, ModelAccuracy]) -> None:
    ids = [r.model_version_id for r in rows.values() if r.model_version_id]
    versions = ModelVersion.objects.filter(Q(pk__in=ids) | Q(is_production=True))
    for version in versions:
        key = model_key(model_version_id=version.pk, task=version.task, card_sha="")
        row = rows.setdefault(
            key,
            ModelAccuracy(
                key=key,
                task=version.task,
                label=f"{version.task} v{version.version}",
                model_version_id=version.pk,
                is_production=False,
            ),
        )
        row.label = f"{version.task} v{version.version}"
        row.is_production = version.is_production
        row.held_out, split = _held_out(version.metrics)
        row.held_out_source = f"registry ({split} split)" if split else ""


def shipped_cards() -> dict[str, tuple[str, dict[str, Any]]]:
    """task -> (card hash as analyses record it, card) of the default bundles in MODELS_DIR."""
    root = Path(settings.MODELS_DIR)
    cards: dict[str, tuple[str, dict[str, Any]]] = {}
    if not root.is_dir():
        return cards
    for card_path in sorted(root.glob("*/card.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sha = hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()
        cards[card_path.parent.name] = (sha, card)
    return cards


def _add_defaults(rows: dict[str, ModelAccuracy]) -> None:
    cards = shipped_cards()
    production_tasks = set(
        ModelVersion.objects.filter(is_production=True).values_list("task", flat=True)
    )
    for task, (sha, card) in cards.items():
        key = model_key(model_version_id=None, task=task, card_sha=sha)
        row = rows.setdefault(
            key,
            ModelAccuracy(
                key=key,
                task=task,
                label=f"{task} (default model)",
                model_version_id=None,
                is_production=False,
            ),
        )
        row.is_production = task not in production_tasks
        row.held_out, split = _held_out(card.get("metrics") or {})
        row.held_out_source = f"model card ({split} split)" if split else ""
    for row in rows.values():
        if row.model_version_id is None and not row.held_out:
            row.note = "This bundle is no longer shipped: its held-out metrics are unknown here."


def model_choices(rows: list[ModelAccuracy] | None = None) -> list[tuple[str, str]]:
    """(key, label) of every model with corrections or in production, for filters."""
    rows = model_accuracy() if rows is None else rows
    return [(r.key, f"{r.label}{' (production)' if r.is_production else ''}") for r in rows]
