"""Feedback REST API: the questionnaire of an analysis or a finished run, my response to it
(submit or edit), my responses; for staff the aggregates and the accuracy people report per
model; for owners of teams allowed to use it, the feedback dataset (summary, zip export, import
into a team). Access rules live in selectors (404 for what is not yours) and services (403)."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import team_get_for_user
from feedback import aggregates, selectors, services
from feedback.models import Questionnaire, Target
from feedback.serializers import (
    CHOICES_HELP,
    FeedbackQuestionnaireSerializer,
    FeedbackResponseSerializer,
)
from feedback.services import AnswerInput


@contextmanager
def _service_errors():
    """Django ValidationError from a service -> DRF 400 (PermissionDenied and Http404 are already
    turned into 403 and 404 by DRF)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        ) from exc


# ---------------------------------------------------------------- answering
class FeedbackAnswerInputSerializer(serializers.Serializer):
    question = serializers.SlugField(help_text="The question's key.")
    rating = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5, help_text="Rating questions."
    )
    choices = serializers.ListField(
        child=serializers.CharField(), required=False, default=list, help_text=CHOICES_HELP
    )
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Free text; for a correction, what it is when “something else” is picked.",
    )


class FeedbackQuestionnaireOutputSerializer(serializers.Serializer):
    questionnaire = FeedbackQuestionnaireSerializer(
        allow_null=True, help_text="Null when no questionnaire is open for this target."
    )
    response = FeedbackResponseSerializer(allow_null=True, help_text="Mine, if I have answered.")
    can_answer = serializers.BooleanField(
        help_text="False while a training run has not ended, or when no questionnaire is open."
    )


class FeedbackResponseInputSerializer(serializers.Serializer):
    answers = FeedbackAnswerInputSerializer(many=True)


class _TargetApi(APIView):
    """GET the questionnaire / PUT my response, for one target (subclasses pick which)."""

    def target(self, request: Request, pk: int) -> dict:
        raise NotImplementedError

    def _questionnaire_payload(self, request: Request, pk: int) -> dict:
        target = self.target(request, pk)
        questionnaire, response = selectors.questionnaire_for_target(user=request.user, **target)
        session = target.get("training_session")
        finished = session is None or selectors.session_is_finished(session)
        context = {"analysis": target.get("analysis")}
        return {
            "questionnaire": FeedbackQuestionnaireSerializer(questionnaire, context=context).data
            if questionnaire
            else None,
            "response": FeedbackResponseSerializer(response).data if response else None,
            "can_answer": bool(questionnaire) and finished,
        }

    def _get_response(self, request: Request, pk: int) -> Response:
        response = selectors.response_get(user=request.user, **self.target(request, pk))
        if response is None:
            raise Http404("You have not answered about this yet.")
        return Response(FeedbackResponseSerializer(response).data)

    def _put_response(self, request: Request, pk: int) -> Response:
        target = self.target(request, pk)
        serializer = FeedbackResponseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answers = _answers(serializer.validated_data["answers"])
        with _service_errors():
            response, created = services.feedback_response_submit(
                user=request.user, answers=answers, **target
            )
        response = selectors.response_get(user=request.user, **target)
        return Response(
            FeedbackResponseSerializer(response).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _answers(items: list[dict]) -> dict[str, AnswerInput]:
    out: dict[str, AnswerInput] = {}
    for item in items:
        key = item["question"]
        if key in out:
            raise ValidationError({"answers": [f"Question {key!r} is answered twice."]})
        out[key] = AnswerInput(
            rating=item.get("rating"),
            choices=tuple(item.get("choices") or ()),
            text=item.get("text") or "",
        )
    return out


_PUT_DOC = (
    "Submit my answers, or replace the ones I gave before (one response per person and target; "
    "questions left out are unanswered). 201 when created, 200 when edited."
)


class _AnalysisTarget:
    def target(self, request: Request, pk: int) -> dict:
        return {"analysis": selectors.analysis_for_feedback(user=request.user, analysis_id=pk)}


class _SessionTarget:
    def target(self, request: Request, pk: int) -> dict:
        session = selectors.training_session_for_feedback(user=request.user, session_id=pk)
        return {"training_session": session}


class AnalysisQuestionnaireApi(_AnalysisTarget, _TargetApi):
    @extend_schema(
        responses=FeedbackQuestionnaireOutputSerializer,
        description="The questionnaire about my analysis (404 unless it is mine).",
    )
    def get(self, request: Request, analysis_id: int) -> Response:
        return Response(self._questionnaire_payload(request, analysis_id))


class AnalysisResponseApi(_AnalysisTarget, _TargetApi):
    @extend_schema(responses=FeedbackResponseSerializer, description="My response (404 if none).")
    def get(self, request: Request, analysis_id: int) -> Response:
        return self._get_response(request, analysis_id)

    @extend_schema(
        request=FeedbackResponseInputSerializer,
        responses={201: FeedbackResponseSerializer, 200: FeedbackResponseSerializer},
        description=_PUT_DOC,
    )
    def put(self, request: Request, analysis_id: int) -> Response:
        return self._put_response(request, analysis_id)


class SessionQuestionnaireApi(_SessionTarget, _TargetApi):
    @extend_schema(
        responses=FeedbackQuestionnaireOutputSerializer,
        description="The questionnaire about a training run of one of my teams (404 otherwise). "
        "It can be answered once the run has ended.",
    )
    def get(self, request: Request, session_id: int) -> Response:
        return Response(self._questionnaire_payload(request, session_id))


class SessionResponseApi(_SessionTarget, _TargetApi):
    @extend_schema(responses=FeedbackResponseSerializer, description="My response (404 if none).")
    def get(self, request: Request, session_id: int) -> Response:
        return self._get_response(request, session_id)

    @extend_schema(
        request=FeedbackResponseInputSerializer,
        responses={201: FeedbackResponseSerializer, 200: FeedbackResponseSerializer},
        description=_PUT_DOC + " 400 while the run has not ended.",
    )
    def put(self, request: Request, session_id: int) -> Response:
        return self._put_response(request, session_id)


class MyResponseListApi(generics.ListAPIView):
    serializer_class = FeedbackResponseSerializer

    def get_queryset(self):
        return selectors.response_list_for_user(user=self.request.user)


# ---------------------------------------------------------------- staff: aggregates
class FeedbackChoiceStatSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)


class FeedbackQuestionStatSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    kind = serializers.CharField()
    answered = serializers.IntegerField()
    mean = serializers.FloatField(required=False, allow_null=True, help_text="rating")
    distribution = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="rating: count per 1-5"
    )
    choices = FeedbackChoiceStatSerializer(many=True, required=False, help_text="single, multiple")
    latest = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="text: the latest answers"
    )
    verdicts = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="correction"
    )
    classes = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="correction: how often each class was named",
    )
    reported_accuracy = serializers.FloatField(
        required=False, allow_null=True, help_text="correction: share confirming the model"
    )


class FeedbackPeriodSerializer(serializers.Serializer):
    period = serializers.DateField()
    responses = serializers.IntegerField()
    ratings = serializers.DictField(
        child=serializers.FloatField(), help_text="question key -> mean rating"
    )


class FeedbackAggregatesApi(APIView):
    permission_classes = (IsAdminUser,)

    class FilterSerializer(serializers.Serializer):
        questionnaire = serializers.IntegerField(
            required=False, help_text="Default: the active analysis questionnaire."
        )
        since = serializers.DateField(required=False)
        until = serializers.DateField(required=False, help_text="Inclusive.")
        model = serializers.CharField(required=False, default="", help_text="A model key.")
        bucket = serializers.ChoiceField(
            choices=list(aggregates.BUCKETS), required=False, default="week"
        )

    class OutputSerializer(serializers.Serializer):
        questionnaire = FeedbackQuestionnaireSerializer()
        responses = serializers.IntegerField()
        questions = FeedbackQuestionStatSerializer(many=True)
        over_time = FeedbackPeriodSerializer(many=True)

    @extend_schema(
        parameters=[FilterSerializer],
        responses=OutputSerializer,
        description="Staff only: per question aggregates and responses over time.",
    )
    def get(self, request: Request) -> Response:
        f = self.FilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        data = f.validated_data
        questionnaire = _questionnaire(data.get("questionnaire"))
        window = {
            "since": _day_start(data.get("since")),
            "until": _day_start(data.get("until"), next_day=True),
            "model": data["model"],
        }
        stats = aggregates.questionnaire_aggregates(questionnaire=questionnaire, **window)
        over_time = aggregates.responses_over_time(
            questionnaire=questionnaire, bucket=data["bucket"], **window
        )
        return Response(
            {
                **stats,
                "questionnaire": FeedbackQuestionnaireSerializer(questionnaire).data,
                "over_time": over_time,
            }
        )


def _questionnaire(pk: int | None) -> Questionnaire:
    if pk is None:
        questionnaire = selectors.questionnaire_active(target=Target.ANALYSIS)
    else:
        questionnaire = Questionnaire.objects.filter(pk=pk).first()
    if questionnaire is None:
        raise Http404("No such questionnaire.")
    return questionnaire


def _day_start(day, *, next_day: bool = False) -> datetime | None:
    if day is None:
        return None
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start + timedelta(days=1) if next_day else start


class ModelAccuracyApi(APIView):
    permission_classes = (IsAdminUser,)

    class OutputSerializer(serializers.Serializer):
        key = serializers.CharField(help_text="Filter aggregates by it (?model=).")
        task = serializers.CharField()
        label = serializers.CharField()
        model_version_id = serializers.IntegerField(allow_null=True)
        is_production = serializers.BooleanField()
        judged = serializers.IntegerField(help_text="Corrections saying right or wrong.")
        agreed = serializers.IntegerField()
        corrected = serializers.IntegerField()
        other = serializers.IntegerField()
        unknown = serializers.IntegerField()
        reported_accuracy = serializers.FloatField(allow_null=True)
        interval = serializers.ListField(
            child=serializers.FloatField(), allow_null=True, help_text="Wilson 95 %."
        )
        held_out = serializers.DictField(
            help_text="accuracy, balanced_accuracy, macro_f1, n of the held-out split."
        )
        held_out_source = serializers.CharField()
        note = serializers.CharField()

    @extend_schema(
        responses=OutputSerializer(many=True),
        description="Staff only: the accuracy people report (share of “what is it really?” "
        "answers naming the model's own answer; “I don't know” left out) beside the held-out "
        "metrics, per model; production models first.",
    )
    def get(self, request: Request) -> Response:
        rows = [row.as_dict() for row in aggregates.model_accuracy()]
        return Response(self.OutputSerializer(rows, many=True).data)


# ---------------------------------------------------------------- the feedback dataset
def _require_dataset(request: Request) -> None:
    if not selectors.dataset_can_export(user=request.user):
        raise PermissionDenied(
            "Only staff, and owners of teams allowed to use the feedback dataset, can use it."
        )


class FeedbackDatasetApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class TaskSerializer(serializers.Serializer):
            task = serializers.CharField()
            class_counts = serializers.DictField(child=serializers.IntegerField())
            images = serializers.IntegerField()
            people = serializers.IntegerField()
            without_consent = serializers.IntegerField(
                help_text="Labelled corrections left out: their owners do not consent."
            )

        class TeamSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            name = serializers.CharField()

        tasks = TaskSerializer(many=True)
        import_teams = TeamSerializer(many=True, help_text="Teams I may import into.")

    @extend_schema(
        responses=OutputSerializer,
        description="The feedback dataset per task (consenting people only). Staff, and owners "
        "of teams that staff allowed to use it.",
    )
    def get(self, request: Request) -> Response:
        _require_dataset(request)
        data = {
            "tasks": [s.__dict__ for s in selectors.dataset_summary()],
            "import_teams": selectors.dataset_teams_for_user(user=request.user).values(
                "id", "name"
            ),
        }
        return Response(self.OutputSerializer(data).data)


class FeedbackDatasetExportApi(APIView):
    @extend_schema(
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
        description="A zip: a folder per class of `<analysis uid>.jpg`, metadata.csv (image_id, "
        "lesion_id = a pseudonym per person, label, predicted, model) and README.txt. A valid "
        "dataset for ml.data and the training workspace.",
    )
    def get(self, request: Request, task: str) -> FileResponse:
        _require_dataset(request)
        out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
        try:
            with _service_errors():
                services.feedback_dataset_export(user=request.user, task=task, out=out)
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return FileResponse(
            out,
            as_attachment=True,
            filename=f"feedback-{task}.zip",
            content_type="application/zip",
        )


class FeedbackDatasetImportApi(APIView):
    class InputSerializer(serializers.Serializer):
        team_id = serializers.IntegerField(help_text="A team I own that may use the dataset.")
        name = serializers.CharField(
            max_length=120,
            required=False,
            allow_blank=True,
            default="",
            help_text="The team's dataset to add a version to. Default: “Feedback: <task>”.",
        )

    class OutputSerializer(serializers.Serializer):
        dataset_id = serializers.IntegerField()
        dataset_version_id = serializers.IntegerField()
        number = serializers.IntegerField()
        status = serializers.CharField()
        images = serializers.IntegerField()

    @extend_schema(
        request=InputSerializer,
        responses={202: OutputSerializer},
        parameters=[OpenApiParameter("task", OpenApiTypes.STR, OpenApiParameter.PATH)],
        description="Copy the feedback dataset of the task into a new dataset version of the "
        "team (validated by a worker like any upload). Owners of teams allowed to use it.",
    )
    def post(self, request: Request, task: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = team_get_for_user(user=request.user, team_id=serializer.validated_data["team_id"])
        with _service_errors():
            version = services.feedback_dataset_import(
                user=request.user, team=team, task=task, name=serializer.validated_data["name"]
            )
        version.refresh_from_db()
        data = {
            "dataset_id": version.dataset_id,
            "dataset_version_id": version.pk,
            "number": version.number,
            "status": version.status,
            "images": version.feedback_snapshot.image_count,
        }
        return Response(self.OutputSerializer(data).data, status=status.HTTP_202_ACCEPTED)
