"""Training REST API: datasets (upload, server folders, reports, suggestions), training sessions
(start, cancel, resume, clone, compare, promote) and the model registry. Each view authenticates,
validates its input, calls one selector or service and renders; access rules live in selectors
(404 for outsiders) and services (403 for roles that may not act)."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Team
from accounts.selectors import team_get_for_user
from training import compare, selectors, services
from training.serializers import (
    DatasetSerializer,
    DatasetVersionReportSerializer,
    DatasetVersionSerializer,
    ModelVersionSerializer,
    TrainingSessionDetailSerializer,
    TrainingSessionSerializer,
)


class StorageFull(APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_code = "storage_full"
    default_detail = "The server's disk is full."


@contextmanager
def _service_errors():
    """Django ValidationError from a service -> DRF 400, or 507 when the disk is full (as
    /api/analyze answers); PermissionDenied and Http404 are already 403 and 404 in DRF."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        codes = (
            [e.code for e in exc.error_list]
            if not hasattr(exc, "error_dict")
            else [e.code for errors in exc.error_dict.values() for e in errors]
        )
        if "storage_full" in codes:
            raise StorageFull(detail) from exc
        raise ValidationError(detail) from exc


class UploadResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(
        help_text="False when this exact archive was already uploaded: the existing version."
    )
    version = DatasetVersionSerializer()


def _upload_response(version, created: bool) -> Response:
    data = {"created": created, "version": DatasetVersionSerializer(version).data}
    return Response(data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class _UploadFields(serializers.Serializer):
    archive = serializers.FileField(help_text="A zip with one folder per class.")
    group_csv = serializers.FileField(
        required=False, help_text="Optional CSV mapping image ids to groups (lesion, person)."
    )
    group_column = serializers.CharField(max_length=60, default="lesion_id")
    id_column = serializers.CharField(max_length=60, default="image_id")


# ---------------------------------------------------------------- datasets
class DatasetListUploadApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    class InputSerializer(_UploadFields):
        team_id = serializers.IntegerField()
        name = serializers.CharField(max_length=120)
        task = serializers.CharField(max_length=60)
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        parameters=[OpenApiParameter("team", OpenApiTypes.INT, description="only this team")],
        responses=DatasetSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        team = request.query_params.get("team")
        datasets = selectors.dataset_list_for_user(
            user=request.user, team_id=int(team) if team and team.isdigit() else None
        )
        return Response(DatasetSerializer(datasets, many=True).data)

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            202: UploadResultSerializer,
            200: UploadResultSerializer,
            507: OpenApiResponse(description="The server's disk is full; nothing was kept."),
        },
        description=(
            "Upload a zip (a folder per class) into the team's dataset `name` (created on first "
            "upload). Checked at once (size, zip rules: no `..`/absolute paths, no links, bounded "
            "file count, total size and expansion ratio) -> 400 naming the rule; then extracted "
            "and validated by a worker. The same archive again returns the existing version."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = _team_for(request, data.pop("team_id"))
        with _service_errors():
            version, created = services.dataset_upload(team=team, user=request.user, **data)
        return _upload_response(version, created)


def _team_for(request: Request, team_id: int) -> Team:
    return team_get_for_user(user=request.user, team_id=team_id)


class DatasetDetailApi(APIView):
    @extend_schema(responses=DatasetSerializer)
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get_for_user(user=request.user, dataset_id=dataset_id)
        return Response(DatasetSerializer(dataset).data)

    @extend_schema(responses={204: None}, description="Team owners only.")
    def delete(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get_for_user(user=request.user, dataset_id=dataset_id)
        with _service_errors():
            services.dataset_delete(dataset=dataset, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetVersionUploadApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    class InputSerializer(_UploadFields):
        pass

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={
            202: UploadResultSerializer,
            200: UploadResultSerializer,
            507: OpenApiResponse(description="The server's disk is full; nothing was kept."),
        },
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = selectors.dataset_get_for_user(user=request.user, dataset_id=dataset_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_errors():
            version, created = services.dataset_version_upload(
                dataset=dataset, user=request.user, **serializer.validated_data
            )
        return _upload_response(version, created)


class DatasetRegisterFolderApi(APIView):
    parser_classes = (JSONParser, FormParser, MultiPartParser)

    class InputSerializer(serializers.Serializer):
        team_id = serializers.IntegerField()
        name = serializers.CharField(max_length=120)
        task = serializers.CharField(max_length=60)
        path = serializers.CharField(max_length=500, help_text="Absolute folder on the server.")
        group_csv_path = serializers.CharField(
            max_length=500, required=False, allow_blank=True, default=""
        )
        group_column = serializers.CharField(max_length=60, default="lesion_id")
        id_column = serializers.CharField(max_length=60, default="image_id")
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={202: DatasetVersionSerializer},
        description="Staff only: a folder on the server, read in place (e.g. "
        "../shared/data/ham10000/images with metadata.csv grouped by lesion_id).",
    )
    def post(self, request: Request) -> Response:
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can register a folder on the server.")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = get_object_or_404(Team, pk=data.pop("team_id"))  # staff: any team
        with _service_errors():
            version = services.dataset_version_register_folder(user=request.user, team=team, **data)
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


class DatasetVersionDetailApi(APIView):
    @extend_schema(responses=DatasetVersionReportSerializer)
    def get(self, request: Request, version_id: int) -> Response:
        version = selectors.dataset_version_get_for_user(user=request.user, version_id=version_id)
        return Response(DatasetVersionReportSerializer(version).data)


class DatasetVersionSuggestApi(APIView):
    class OutputSerializer(serializers.Serializer):
        train = serializers.DictField(help_text="A TrainConfig (ml.train.config) as JSON.")
        label_mapping = serializers.DictField()
        classes = serializers.ListField(child=serializers.CharField())
        reasons = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, version_id: int) -> Response:
        version = selectors.dataset_version_get_for_user(user=request.user, version_id=version_id)
        return Response(services.training_config_suggest(version))


# ---------------------------------------------------------------- sessions
class _RunFields(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    train = serializers.DictField(
        required=False,
        default=dict,
        help_text="TrainConfig keys (backbone, image_size, frozen_epochs, finetune_epochs, lr, "
        "…); omitted keys take the defaults. GET the suggestion to start from.",
    )
    label_mapping = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        help_text='{"rules": {"old_class": "new_class" | null (drop)}, "unmapped": "keep"}',
    )


class TrainingSessionListStartApi(APIView):
    class InputSerializer(_RunFields):
        dataset_version_id = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        url = serializers.CharField()
        ws_path = serializers.CharField()

    @extend_schema(
        parameters=[
            OpenApiParameter("team", OpenApiTypes.INT),
            OpenApiParameter("status", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT, description="default 50, at most 500"),
        ],
        responses=TrainingSessionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        team = params.get("team")
        limit = params.get("limit", "50")
        sessions = selectors.training_session_list_for_user(
            user=request.user,
            team_id=int(team) if team and team.isdigit() else None,
            status=params.get("status") or None,
        )[: min(int(limit) if limit.isdigit() else 50, 500)]
        return Response(TrainingSessionSerializer(sessions, many=True).data)

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = selectors.dataset_version_get_for_user(
            user=request.user, version_id=data.pop("dataset_version_id")
        )
        with _service_errors():
            session = services.training_session_start(
                user=request.user, dataset_version=version, **data
            )
        return _accepted(session)


def _accepted(session) -> Response:
    data = {"id": session.pk, "status": session.status, "ws_path": session.ws_path}
    data["url"] = TrainingSessionSerializer(session).data["url"]
    return Response(data, status=status.HTTP_202_ACCEPTED)


class TrainingSessionDetailApi(APIView):
    @extend_schema(
        responses=TrainingSessionDetailSerializer,
        description="The row, every epoch so far and the log tail: what the page polls when "
        "its websocket is unavailable. Checks the heartbeat of a running session first.",
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
        if session.status == session.Status.RUNNING:
            services.training_session_sweep_stale(session_id=session.pk)
            session.refresh_from_db()
        return Response(TrainingSessionDetailSerializer(session).data)


class TrainingSessionCancelApi(APIView):
    @extend_schema(request=None, responses=TrainingSessionSerializer)
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
        with _service_errors():
            session = services.training_session_cancel(session=session, user=request.user)
        return Response(TrainingSessionSerializer(session).data)


class TrainingSessionResumeApi(APIView):
    @extend_schema(request=None, responses={202: TrainingSessionSerializer})
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
        with _service_errors():
            session = services.training_session_resume(session=session, user=request.user)
        return Response(TrainingSessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)


class TrainingSessionCloneApi(APIView):
    class InputSerializer(_RunFields):
        dataset_version_id = serializers.IntegerField(
            required=False, help_text="Default: the source run's dataset version."
        )

    @extend_schema(
        request=InputSerializer, responses={202: TrainingSessionListStartApi.OutputSerializer}
    )
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version_id = data.pop("dataset_version_id", None)
        version = (
            selectors.dataset_version_get_for_user(user=request.user, version_id=version_id)
            if version_id
            else None
        )
        with _service_errors():
            clone = services.training_session_clone(
                session=session, user=request.user, dataset_version=version, **data
            )
        return _accepted(clone)


class TrainingSessionCompareApi(APIView):
    class OutputSerializer(serializers.Serializer):
        sessions = TrainingSessionDetailSerializer(many=True)
        config_diff = serializers.ListField(child=serializers.DictField())
        metrics = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ids", OpenApiTypes.STR, required=True, description="comma-separated, 2 or more"
            )
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request) -> Response:
        ids = _ids(request.query_params.get("ids", ""))
        sessions = selectors.training_session_compare_for_user(user=request.user, session_ids=ids)
        return Response(
            {
                "sessions": TrainingSessionDetailSerializer(sessions, many=True).data,
                "config_diff": compare.config_diff(sessions),
                "metrics": compare.metrics_table(sessions),
            }
        )


def _ids(raw: str) -> list[int]:
    ids = list(dict.fromkeys(int(p) for p in raw.replace(" ", "").split(",") if p.isdigit()))
    if len(ids) < 2 or len(ids) > 8:
        raise ValidationError({"ids": "Pick between two and eight runs to compare."})
    return ids


class TrainingSessionPromoteApi(APIView):
    class InputSerializer(serializers.Serializer):
        make_production = serializers.BooleanField(
            default=False, help_text="Serve analyses of this task once exported."
        )

    @extend_schema(request=InputSerializer, responses={202: ModelVersionSerializer})
    def post(self, request: Request, session_id: int) -> Response:
        session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_errors():
            version = services.model_version_promote(
                session=session, user=request.user, **serializer.validated_data
            )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------- registry
class ModelVersionListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("task", OpenApiTypes.STR)],
        responses=ModelVersionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        versions = selectors.model_version_list_for_user(
            user=request.user, task=request.query_params.get("task") or None
        )
        return Response(ModelVersionSerializer(versions, many=True).data)


class ModelVersionDetailApi(APIView):
    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request: Request, model_version_id: int) -> Response:
        version = selectors.model_version_get_for_user(
            user=request.user, model_version_id=model_version_id
        )
        return Response(ModelVersionSerializer(version).data)


class ModelVersionSetProductionApi(APIView):
    @extend_schema(
        request=None,
        responses=ModelVersionSerializer,
        description="Team owners only: this version answers its task's analyses (atomic swap).",
    )
    def post(self, request: Request, model_version_id: int) -> Response:
        version = selectors.model_version_get_for_user(
            user=request.user, model_version_id=model_version_id
        )
        with _service_errors():
            version = services.model_version_set_production(
                model_version=version, user=request.user
            )
        return Response(ModelVersionSerializer(version).data)
