"""Analysis services: the only code that creates, changes or deletes Analysis rows and their
files. Intake and quality run before anything is written, so a refused photo leaves no trace.
Called by views, API views and tasks; never imports torch (the predictor is ONNX Runtime)."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from accounts import notifications
from accounts.selectors import profile_for
from analysis import catalog, intake, predictors, quality
from analysis.models import Analysis
from recommendations.services import build_advice

log = logging.getLogger(__name__)


class PhotoRefused(Exception):
    """Intake or quality errors: cannot be overridden. Nothing was stored."""

    def __init__(self, code: str, message: str, report: quality.QualityReport | None = None):
        super().__init__(message)
        self.code, self.message, self.report = code, message, report


class PhotoNeedsConfirmation(Exception):
    """Quality warnings: the person may retake the photo or analyse it anyway."""

    def __init__(self, report: quality.QualityReport):
        super().__init__(" ".join(w.message for w in report.warnings))
        self.report = report


class StorageFull(Exception):
    """The disk is full: nothing of the analysis was kept."""


def analysis_submit(
    *,
    user: AbstractBaseUser,
    task: str,
    raw: bytes,
    filename: str | None = None,
    accept_warnings: bool = False,
) -> Analysis:
    ref = _resolve(task)
    photo = _accept(raw, filename)
    report = _quality_gate(task, photo, accept_warnings=accept_warnings)
    predictor = predictors.predictor_for(ref)
    prediction = predictor.predict(photo.image)
    advice = build_advice(
        task=task, probabilities=prediction.probabilities, profile=profile_for(user)
    )
    analysis = Analysis(
        owner=user,
        task=task,
        probabilities=prediction.probabilities,
        top_class=prediction.top_class,
        top_probability=prediction.top_probability,
        severity=advice.severity,
        uncertain=prediction.uncertain,
        uncertain_reasons=list(prediction.reasons),
        ood_score=prediction.ood_score,
        advice=advice.to_dict(),
        model_version_id=ref.model_version_id,
        model_label=ref.label,
        model_card_sha=_card_sha(predictor.card.raw),
        width=photo.image.width,
        height=photo.image.height,
        quality={
            "measures": report.measures,
            "accepted_warnings": [w.code for w in report.warnings],
        },
    )
    return _store(analysis, photo)


def _resolve(task: str) -> predictors.ModelRef:
    try:
        return predictors.resolve(task)
    except predictors.NoModelForTask as exc:
        raise ValidationError({"task": f"No model answers the task {task!r}."}) from exc


def _accept(raw: bytes, filename: str | None) -> intake.AcceptedPhoto:
    try:
        return intake.accept_photo(
            raw,
            filename=filename,
            max_bytes=settings.UPLOAD_MAX_BYTES,
            max_pixels=settings.UPLOAD_MAX_PIXELS,
        )
    except intake.IntakeError as exc:
        raise PhotoRefused(exc.code, exc.message) from exc


def _quality_gate(
    task: str, photo: intake.AcceptedPhoto, *, accept_warnings: bool
) -> quality.QualityReport:
    report = quality.assess(photo.image, needs_face=catalog.task_info(task).needs_face)
    if report.errors:
        raise PhotoRefused(
            report.errors[0].code, " ".join(e.message for e in report.errors), report
        )
    if report.warnings and not accept_warnings:
        raise PhotoNeedsConfirmation(report)
    return report


def _card_sha(card: dict) -> str:
    return hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()


def _store(analysis: Analysis, photo: intake.AcceptedPhoto) -> Analysis:
    """Files first, then the row in one transaction; on any failure the files go too."""
    try:
        with transaction.atomic():
            analysis.image.save("photo.jpg", ContentFile(photo.jpeg), save=False)
            analysis.thumbnail.save("thumb.jpg", ContentFile(photo.thumbnail), save=False)
            analysis.save()
    except BaseException as exc:
        _delete_files(analysis)
        _delete_unsaved(analysis, {"image": "photo.jpg", "thumbnail": "thumb.jpg"})
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(
                "The server has run out of storage space, so your photo was not "
                "saved. Please try again later."
            ) from exc
        raise
    return analysis


def _delete_files(analysis: Analysis) -> None:
    for field in (analysis.image, analysis.thumbnail, analysis.gradcam):
        if field and field.name:
            try:
                field.storage.delete(field.name)
            except OSError:
                log.warning("could not delete %s", field.name, exc_info=True)


def _delete_unsaved(analysis: Analysis, uploads: dict[str, str]) -> None:
    """A save that fails half-way (a full disk mid-write) has created its file but never set the
    field's name: delete the name its upload_to gives. That name is the analysis's own (its
    uid), so nothing else can be there."""
    for attr, filename in uploads.items():
        field = getattr(analysis, attr)
        if field.name:
            continue  # saved completely: _delete_files has removed it
        name = field.field.generate_filename(analysis, filename)
        try:
            if field.storage.exists(name):
                field.storage.delete(name)
        except OSError:
            log.warning("could not delete %s", name, exc_info=True)


@transaction.atomic
def analysis_delete(*, analysis: Analysis) -> None:
    files = [f.name for f in (analysis.image, analysis.thumbnail, analysis.gradcam) if f]
    storage = analysis.image.storage
    analysis.delete()
    # Files go only once the row is really gone.
    transaction.on_commit(lambda: [storage.delete(name) for name in files])


def analysis_delete_all(*, user: AbstractBaseUser) -> int:
    count = 0
    for analysis in Analysis.objects.filter(owner=user).only(
        "pk", "image", "thumbnail", "gradcam", "owner_id", "uid"
    ):
        analysis_delete(analysis=analysis)
        count += 1
    return count


def analysis_note_update(*, analysis: Analysis, note: str) -> Analysis:
    analysis.note = note.strip()[:2000]
    analysis.save(update_fields=["note"])
    return analysis


def analysis_export(*, user: AbstractBaseUser) -> Path:
    """A zip of every analysis of `user`: analyses.json + photos/<uid>.jpg. The caller streams
    and then deletes the file."""
    from analysis.serializers import analysis_to_dict

    tmp = tempfile.NamedTemporaryFile(prefix="skin-export-", suffix=".zip", delete=False)  # noqa: SIM115
    rows = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for analysis in Analysis.objects.filter(owner=user).order_by("created_at"):
            data = analysis_to_dict(analysis)
            if analysis.image:
                name = f"photos/{analysis.uid}.jpg"
                with analysis.image.open("rb") as fh:
                    archive.writestr(name, fh.read(), compress_type=zipfile.ZIP_STORED)
                data["photo_file"] = name
            rows.append(data)
        archive.writestr(
            "analyses.json",
            json.dumps({"format": 1, "user": user.get_username(), "analyses": rows}, indent=2),
        )
    tmp.close()
    return Path(tmp.name)


def analysis_gradcam_request(*, analysis: Analysis) -> Analysis:
    """Queue a Grad-CAM overlay for this analysis (computed by a worker, cached beside the
    photo). Idempotent: a ready or pending one is not recomputed."""
    if analysis.gradcam_status in (Analysis.GradcamStatus.READY, Analysis.GradcamStatus.PENDING):
        return analysis
    from django_q.tasks import async_task

    analysis.gradcam_status = Analysis.GradcamStatus.PENDING
    analysis.save(update_fields=["gradcam_status"])
    pk = analysis.pk
    transaction.on_commit(
        lambda: async_task(
            "analysis.tasks.run_gradcam", pk, task_name=f"gradcam-{pk}", group="gradcam"
        )
    )
    return analysis


def analysis_gradcam_store(*, analysis: Analysis, png: bytes | None, error: str = "") -> None:
    if png is None:
        analysis.gradcam_status = Analysis.GradcamStatus.FAILED
        analysis.save(update_fields=["gradcam_status"])
    else:
        analysis.gradcam.save("gradcam.png", ContentFile(png), save=False)
        analysis.gradcam_status = Analysis.GradcamStatus.READY
        analysis.save(update_fields=["gradcam", "gradcam_status"])
    notifications.publish(
        analysis.owner_id,
        {
            "type": "event",
            "event": "gradcam",
            "analysis": analysis.pk,
            "status": analysis.gradcam_status,
            "error": error,
        },
    )
