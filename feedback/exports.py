"""CSV export of responses for staff: one row per answer (long format: every questionnaire
version fits the same columns). People appear by user id only; free text is neutralised so a
spreadsheet never runs it as a formula."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from feedback.models import Answer, Response

COLUMNS = (
    "response_id",
    "questionnaire_id",
    "questionnaire_version",
    "target",
    "target_id",
    "respondent_id",
    "task",
    "model",
    "model_answer",
    "created_at",
    "updated_at",
    "question",
    "question_text",
    "kind",
    "rating",
    "choices",
    "text",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def response_rows(responses: QuerySet[Response]) -> Iterator[list[str]]:
    answers = Answer.objects.select_related("question").order_by("question__order", "question_id")
    qs = (
        responses.select_related("questionnaire", "analysis")
        .prefetch_related(Prefetch("answers", queryset=answers))
        .order_by("created_at", "pk")
    )
    for response in qs.iterator(chunk_size=500):
        analysis = response.analysis
        head = [
            response.pk,
            response.questionnaire_id,
            response.questionnaire.version,
            response.target,
            response.target_id,
            response.respondent_id,
            analysis.task if analysis else "",
            analysis.model_label if analysis else "",
            analysis.top_class if analysis else "",
            response.created_at.isoformat(),
            response.updated_at.isoformat(),
        ]
        for answer in response.answers.all():
            q = answer.question
            tail = [q.key, q.text, q.kind, answer.rating, "|".join(answer.choices), answer.text]
            yield [_cell(v) for v in (*head, *tail)]


def responses_csv_lines(responses: QuerySet[Response]) -> Iterator[str]:
    """The CSV, line by line (for a streaming HTTP response)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in response_rows(responses):
        yield writer.writerow(row)
