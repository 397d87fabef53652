"""Training pages: datasets and their reports (thumbnails through an access-checked view),
the run form, the live session page, comparison and the model registry. Each view reads through
a selector (404 for outsiders), acts through one service and renders."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from skinplatform import panels
from training import compare, selectors, services, thumbnails
from training.forms import (
    TASK_SUGGESTIONS,
    DatasetUploadForm,
    DatasetVersionUploadForm,
    RegisterFolderForm,
    RunForm,
)
from training.models import DatasetVersion, TrainingSession
from training.serializers import (
    EpochMetricSerializer,
    TrainingSessionDetailSerializer,
    session_summary,
)


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{m}" for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, msgs)
    else:
        form.add_error(None, exc.messages)


# ---------------------------------------------------------------- datasets
@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    form = DatasetUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            version, created = services.dataset_upload(user=request.user, **data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            _upload_message(request, version, created)
            return redirect("training:dataset-version-detail", version_id=version.pk)
    context = {
        "form": form,
        "datasets": selectors.dataset_list_for_user(user=request.user),
        "task_suggestions": TASK_SUGGESTIONS,
    }
    return render(request, "training/dataset_list.html", context)


def _upload_message(request: HttpRequest, version: DatasetVersion, created: bool) -> None:
    if created:
        messages.success(request, f"Uploaded: {version} is being extracted and validated.")
    else:
        messages.info(request, f"This exact archive is already {version}; nothing new stored.")


@login_required
def dataset_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_for_user(user=request.user, dataset_id=dataset_id)
    form = DatasetVersionUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            version, created = services.dataset_version_upload(
                dataset=dataset, user=request.user, **form.cleaned_data
            )
        except PermissionDenied:
            raise
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            _upload_message(request, version, created)
            return redirect("training:dataset-version-detail", version_id=version.pk)
    context = {
        "dataset": dataset,
        "versions": selectors.dataset_version_list(dataset=dataset),
        "form": form,
        "can_edit": selectors.can_edit(user=request.user, team_id=dataset.team_id),
        "is_owner": selectors.is_owner(user=request.user, team_id=dataset.team_id),
    }
    return render(request, "training/dataset_detail.html", context)


@login_required
@require_POST
def dataset_delete(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_for_user(user=request.user, dataset_id=dataset_id)
    try:
        services.dataset_delete(dataset=dataset, user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("training:dataset-detail", dataset_id=dataset.pk)
    messages.success(request, f"Dataset {dataset.name} deleted.")
    return redirect("training:dataset-list")


@login_required
def dataset_register_folder(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can register a folder on the server.")
    form = RegisterFolderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.dataset_version_register_folder(
                user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Registered {version}; it is being hashed and validated.")
            return redirect("training:dataset-list")
    return render(request, "training/dataset_register_folder.html", {"form": form})


@login_required
def dataset_version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    version = selectors.dataset_version_get_for_user(user=request.user, version_id=version_id)
    report = version.report or {}
    context = {
        "version": version,
        "dataset": version.dataset,
        "report": report,
        "findings": report.get("findings", []),
        "samples": sorted((report.get("samples") or {}).items()),
        "class_counts": sorted((version.class_counts or {}).items()),
        "can_edit": selectors.can_edit(user=request.user, team_id=version.dataset.team_id),
        "sessions": version.training_sessions.order_by("-created_at")[:10],
    }
    return render(request, "training/dataset_version_detail.html", context)


@login_required
def dataset_version_thumb(request: HttpRequest, version_id: int, path: str) -> FileResponse:
    version = selectors.dataset_version_get_for_user(user=request.user, version_id=version_id)
    size = request.GET.get("s", "160")
    thumb = thumbnails.thumbnail(version, path, int(size) if size.isdigit() else 160)
    if thumb is None:
        raise Http404("No such image in this dataset version.")
    response = FileResponse(open(thumb, "rb"), content_type="image/jpeg")  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=86400"
    return response


# ---------------------------------------------------------------- sessions
@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    sessions = selectors.training_session_list_for_user(
        user=request.user, status=request.GET.get("status") or None
    )[:200]
    return render(
        request,
        "training/session_list.html",
        {"sessions": sessions, "statuses": TrainingSession.Status.choices},
    )


@login_required
def session_new(request: HttpRequest) -> HttpResponse:
    """Step 1 picks a dataset version; steps 2 (model and stages) and 3 (options) are one form,
    prefilled with suggestions drawn from that dataset."""
    version_id = request.GET.get("version") or request.POST.get("version")
    if not version_id or not str(version_id).isdigit():
        versions = selectors.dataset_version_ready_for_user(user=request.user)
        return render(request, "training/session_new_dataset.html", {"versions": versions})
    version = selectors.dataset_version_get_for_user(user=request.user, version_id=int(version_id))
    suggestion = services.training_config_suggest(version)
    return _run_form(request, version=version, suggestion=suggestion)


@login_required
def session_clone(request: HttpRequest, session_id: int) -> HttpResponse:
    source = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
    if source.dataset_version is None:
        messages.error(request, "The dataset of this run was deleted; start a new run instead.")
        return redirect("training:session-detail", session_id=source.pk)
    suggestion = {
        "train": source.config.get("train", {}),
        "label_mapping": source.config.get("label_mapping"),
        "reasons": [f"Copied from run “{source.name}”; edit what you want to change."],
    }
    return _run_form(request, version=source.dataset_version, suggestion=suggestion, source=source)


def _run_form(request, *, version: DatasetVersion, suggestion: dict, source=None) -> HttpResponse:
    classes = sorted(version.class_counts or {})
    initial = RunForm.initial_from(suggestion["train"], suggestion.get("label_mapping"), classes)
    initial["name"] = (
        f"{source.name} (copy)" if source else f"{version.dataset.name} v{version.number}"
    )
    form = RunForm(request.POST or None, class_counts=version.class_counts or {}, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.training_session_start(
                user=request.user,
                dataset_version=version,
                name=form.cleaned_data["name"],
                train=form.train_config(),
                label_mapping=form.label_mapping(),
                cloned_from=source,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Run “{session.name}” queued.")
            return redirect("training:session-detail", session_id=session.pk)
    context = {
        "form": form,
        "version": version,
        "source": source,
        "reasons": suggestion.get("reasons", []),
        "class_counts": version.class_counts,
        "can_edit": selectors.can_edit(user=request.user, team_id=version.dataset.team_id),
    }
    return render(request, "training/session_form.html", context)


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
    if session.status == TrainingSession.Status.RUNNING:
        services.training_session_sweep_stale(session_id=session.pk)
        session.refresh_from_db()
    detail = TrainingSessionDetailSerializer(session).data
    context = {
        "session": session,
        "initial": {
            "session": session_summary(session),
            "epochs": detail["epochs"],
            "log_tail": detail["log_tail"],
        },
        "config": session.config,
        "can_edit": selectors.can_edit(user=request.user, team_id=session.team_id),
        "is_owner": selectors.is_owner(user=request.user, team_id=session.team_id),
        "model_versions": session.model_versions.all(),
        # Other apps' content under a run (feedback's questionnaire once it has finished).
        "panels": panels.collect("training_session", request, session),
    }
    return render(request, "training/session_detail.html", context)


def _session_action(request: HttpRequest, session_id: int, action, done: str) -> HttpResponse:
    session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
    try:
        action(session=session, user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, done)
    return redirect("training:session-detail", session_id=session.pk)


@login_required
@require_POST
def session_cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    return _session_action(
        request, session_id, services.training_session_cancel, "Cancel requested."
    )


@login_required
@require_POST
def session_resume(request: HttpRequest, session_id: int) -> HttpResponse:
    return _session_action(
        request, session_id, services.training_session_resume, "Resumed: the run is queued."
    )


@login_required
@require_POST
def session_promote(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.training_session_get_for_user(user=request.user, session_id=session_id)
    try:
        version = services.model_version_promote(
            session=session,
            user=request.user,
            make_production=request.POST.get("make_production") == "on",
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("training:session-detail", session_id=session.pk)
    messages.success(request, f"Promoted to the registry as {version}; exporting the bundle.")
    return redirect("training:model-detail", model_version_id=version.pk)


@login_required
def session_compare(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()]
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2:
        messages.info(request, "Tick two or more runs to compare them.")
        return redirect("training:session-list")
    sessions = selectors.training_session_compare_for_user(user=request.user, session_ids=ids[:8])
    curves = [
        {
            "id": s.pk,
            "name": s.name,
            "epochs": EpochMetricSerializer(s.epochs.all(), many=True).data,
        }
        for s in sessions
    ]
    context = {
        "sessions": sessions,
        "curves": curves,
        "diff": compare.config_diff(sessions),
        "metrics": compare.metrics_table(sessions),
    }
    return render(request, "training/session_compare.html", context)


# ---------------------------------------------------------------- registry
@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    versions = selectors.model_version_list_for_user(
        user=request.user, task=request.GET.get("task") or None
    )
    by_task: dict[str, list] = {}
    for version in versions:
        by_task.setdefault(version.task, []).append(version)
    return render(request, "training/model_list.html", {"by_task": sorted(by_task.items())})


@login_required
def model_detail(request: HttpRequest, model_version_id: int) -> HttpResponse:
    version = selectors.model_version_get_for_user(
        user=request.user, model_version_id=model_version_id
    )
    context = {
        "version": version,
        "is_owner": selectors.is_owner(user=request.user, team_id=version.team_id),
        "production": selectors.production_model_for_task(version.task),
    }
    return render(request, "training/model_detail.html", context)


@login_required
@require_POST
def model_set_production(request: HttpRequest, model_version_id: int) -> HttpResponse:
    version = selectors.model_version_get_for_user(
        user=request.user, model_version_id=model_version_id
    )
    try:
        services.model_version_set_production(model_version=version, user=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"{version} now answers {version.task} analyses.")
    return redirect("training:model-detail", model_version_id=version.pk)
