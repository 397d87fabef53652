"""Forms of the feedback pages: a questionnaire rendered as fields (one per question), and the
import of the feedback dataset into a team. Real validation lives in the services."""

from __future__ import annotations

from django import forms

from accounts.models import Team
from analysis.models import Analysis
from feedback import selectors
from feedback.models import CORRECTION_OTHER, Question, Questionnaire, Response
from feedback.services import AnswerInput
from feedback.services.responses import OTHER_TEXT_MAX, TEXT_MAX


def _field_name(question: Question) -> str:
    return f"q_{question.key}"


def _other_name(question: Question) -> str:
    return f"q_{question.key}_other"


class ResponseForm(forms.Form):
    """One field per question; a "what is it really?" question also gets a short text box for
    "something else"."""

    def __init__(
        self,
        *args,
        questionnaire: Questionnaire,
        analysis: Analysis | None = None,
        response: Response | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire
        self.questions = list(questionnaire.questions.all())
        self.entries: list[dict] = []
        for question in self.questions:
            self._add(question, analysis)
        if response is not None and not self.is_bound:
            self._fill(response)

    def _add(self, question: Question, analysis: Analysis | None) -> None:
        options = [(o.value, o.label) for o in selectors.question_options(question, analysis)]
        common = {"label": question.text, "help_text": question.help_text, "required": False}
        kind = question.kind
        if kind == Question.Kind.TEXT:
            widget = forms.Textarea(attrs={"rows": 3})
            field = forms.CharField(widget=widget, max_length=TEXT_MAX, **common)
        elif kind == Question.Kind.MULTIPLE:
            widget = forms.CheckboxSelectMultiple
            field = forms.MultipleChoiceField(choices=options, widget=widget, **common)
        else:
            field = forms.ChoiceField(choices=options, widget=forms.RadioSelect, **common)
        self.fields[_field_name(question)] = field
        entry = {"question": question, "field": self[_field_name(question)], "other": None}
        if kind == Question.Kind.CORRECTION:
            self.fields[_other_name(question)] = forms.CharField(
                label="What is it?", max_length=OTHER_TEXT_MAX, required=False
            )
            entry["other"] = self[_other_name(question)]
            if analysis is not None:
                labels = dict(options)
                entry["hint"] = labels.get(analysis.top_class, analysis.top_class)
        self.entries.append(entry)

    def _fill(self, response: Response) -> None:
        for answer in response.answers.all():
            question = answer.question
            name = _field_name(question)
            if name not in self.fields:
                continue
            if question.kind == Question.Kind.RATING:
                self.initial[name] = str(answer.rating)
            elif question.kind == Question.Kind.TEXT:
                self.initial[name] = answer.text
            elif question.kind == Question.Kind.MULTIPLE:
                self.initial[name] = list(answer.choices)
            else:
                self.initial[name] = answer.choices[0] if answer.choices else ""
            if question.kind == Question.Kind.CORRECTION:
                self.initial[_other_name(question)] = answer.text

    def answers(self) -> dict[str, AnswerInput]:
        data = self.cleaned_data
        out: dict[str, AnswerInput] = {}
        for question in self.questions:
            value = data.get(_field_name(question))
            if question.kind == Question.Kind.RATING:
                out[question.key] = AnswerInput(rating=int(value) if value else None)
            elif question.kind == Question.Kind.TEXT:
                out[question.key] = AnswerInput(text=value or "")
            elif question.kind == Question.Kind.MULTIPLE:
                out[question.key] = AnswerInput(choices=tuple(value or ()))
            else:
                other = ""
                if question.kind == Question.Kind.CORRECTION and value == CORRECTION_OTHER:
                    other = data.get(_other_name(question)) or ""
                out[question.key] = AnswerInput(choices=(value,) if value else ())
                if other:
                    out[question.key] = AnswerInput(choices=(value,), text=other)
        return out

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        keys = {q.key: q for q in self.questions}
        for key, messages in errors.items():
            field = _field_name(keys[key]) if key in keys else None
            for message in messages:
                self.add_error(field, message)


class DatasetImportForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    task = forms.ChoiceField(choices=())
    name = forms.CharField(
        max_length=120,
        required=False,
        help_text="The dataset in the team to add a version to (created on first import). "
        "Empty: “Feedback: <task>”.",
    )

    def __init__(self, *args, teams, tasks: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["task"].choices = [(t, t) for t in tasks]
