"""Analysis REST API: analyse a photo (base64 JSON or multipart), history, detail, note, delete,
export, Grad-CAM. Every endpoint is scoped to the requesting user."""

from __future__ import annotations

import logging
import time

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import intake, selectors, services
from analysis.downloads import zip_download
from analysis.serializers import AnalysisSerializer
from skinplatform.throttling import ScopedRateThrottle

log = logging.getLogger(__name__)


class AnalyzeRateThrottle(ScopedRateThrottle):
    """Per-user limit on analyses (settings REST_FRAMEWORK DEFAULT_THROTTLE_RATES["analyze"],
    env ANALYZE_RATE); answers 429 with Retry-After. On Redis: one round trip (see
    skinplatform/throttling.py)."""

    scope_attr = "throttle_scope"

    def allow_request(self, request, view) -> bool:
        # The limit lives in the cache. With the cache down (Redis stopped) an analysis needs
        # neither Redis nor the queue, so the limit is skipped (logged) instead of a 500.
        try:
            return super().allow_request(request, view)
        except Exception:  # the backend's own error type (redis.ConnectionError, ...)
            log.warning("analysis rate limit skipped: the cache is unreachable", exc_info=True)
            return True


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    warnings = serializers.ListField(child=serializers.DictField(), required=False)


def refusal_response(exc: Exception) -> Response:
    """Maps the analysis services' refusals onto HTTP answers with a stable `code`."""
    if isinstance(exc, services.PhotoNeedsConfirmation):
        return Response(
            {
                "code": "quality_warnings",
                "detail": str(exc),
                "warnings": [w.__dict__ for w in exc.report.warnings],
                "hint": "Retake the photo, or send accept_warnings=true to analyse it anyway.",
            },
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, services.PhotoRefused):
        code = (
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            if exc.code == "too_large"
            else status.HTTP_400_BAD_REQUEST
        )
        return Response({"code": exc.code, "detail": exc.message}, status=code)
    if isinstance(exc, services.StorageFull):
        return Response(
            {"code": "storage_full", "detail": str(exc)},
            status=status.HTTP_507_INSUFFICIENT_STORAGE,
        )
    raise exc


class AnalyzeApi(APIView):
    """Analyse one photo. JSON: `{"task": "lesions", "image": "<base64 or data URL>"}`;
    multipart: fields `task` and `image` (file). Optional `accept_warnings` analyses a photo
    despite quality warnings (errors cannot be overridden). The answer is information, not a
    diagnosis."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_classes = [AnalyzeRateThrottle]
    throttle_scope = "analyze"

    class InputSerializer(serializers.Serializer):
        task = serializers.CharField(max_length=60)
        image = serializers.JSONField(help_text="base64 string / data URL, or a file (multipart)")
        accept_warnings = serializers.BooleanField(default=False)

    @extend_schema(
        request={"application/json": InputSerializer, "multipart/form-data": InputSerializer},
        responses={
            201: AnalysisSerializer,
            400: ErrorSerializer,
            413: ErrorSerializer,
            422: ErrorSerializer,
            429: OpenApiResponse(description="Rate limited"),
            507: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except RequestDataTooBig:
            return Response(
                {"code": "too_large", "detail": "The request is too large."},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        raw, filename = self._image(data)
        task = str(data.get("task", "")).strip()
        accept = str(data.get("accept_warnings", "")).lower() in ("1", "true", "yes", "on")
        started = time.perf_counter()
        try:
            analysis = services.analysis_submit(
                user=request.user, task=task, raw=raw, filename=filename, accept_warnings=accept
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        except (
            services.PhotoRefused,
            services.PhotoNeedsConfirmation,
            services.StorageFull,
        ) as exc:
            return refusal_response(exc)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response = Response(AnalysisSerializer(analysis).data, status=status.HTTP_201_CREATED)
        # The pipeline's own time (intake to saved row), beside what the request took in all:
        # browsers' developer tools and bench/analyze_load.py read it.
        response["Server-Timing"] = f'analysis;dur={elapsed_ms:.2f};desc="photo to saved analysis"'
        return response

    @staticmethod
    def _image(data) -> tuple[bytes, str | None]:
        image = data.get("image") if hasattr(data, "get") else None
        if image is None or image == "":
            raise ValidationError({"code": "empty", "detail": "No image was sent."})
        if hasattr(image, "read"):
            return image.read(), getattr(image, "name", None)
        try:
            return intake.decode_base64_image(image), None
        except intake.IntakeError as exc:
            raise ValidationError({"code": exc.code, "detail": exc.message}) from exc


class AnalysisListApi(ListAPIView):
    serializer_class = AnalysisSerializer

    def get_queryset(self):
        return selectors.analysis_list_for_user(
            user=self.request.user, task=self.request.query_params.get("task")
        )

    @extend_schema(parameters=[OpenApiParameter("task", str, description="filter by task")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="analyses_destroy_all",
        responses={200: OpenApiResponse(description="{'deleted': n}")},
    )
    def delete(self, request: Request) -> Response:
        """Delete every analysis of mine, and their photos."""
        return Response({"deleted": services.analysis_delete_all(user=request.user)})


class AnalysisDetailApi(APIView):
    class NoteSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=2000, allow_blank=True)

    @extend_schema(responses=AnalysisSerializer)
    def get(self, request: Request, pk: int) -> Response:
        analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
        return Response(AnalysisSerializer(analysis).data)

    @extend_schema(request=NoteSerializer, responses=AnalysisSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
        serializer = self.NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.analysis_note_update(analysis=analysis, note=serializer.validated_data["note"])
        return Response(AnalysisSerializer(analysis).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
        services.analysis_delete(analysis=analysis)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalysisGradcamApi(APIView):
    @extend_schema(request=None, responses={202: AnalysisSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Ask a worker for the Grad-CAM overlay; a `gradcam` event arrives on
        ws/notifications/ when it is ready."""
        analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
        services.analysis_gradcam_request(analysis=analysis)
        analysis.refresh_from_db()
        return Response(AnalysisSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)


class AnalysisExportApi(APIView):
    @extend_schema(
        responses={(200, "application/zip"): OpenApiResponse(description="analyses.json + photos/")}
    )
    def get(self, request: Request):
        path = services.analysis_export(user=request.user)
        return zip_download(path)


class AnalysisTimelineApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("task", str, required=True)],
        responses={200: OpenApiResponse(description="classes + points")},
    )
    def get(self, request: Request) -> Response:
        task = request.query_params.get("task", "")
        return Response(selectors.analysis_timeline(user=request.user, task=task))
