"""Feedback pages: answer (or edit the answers) about an analysis result or a finished training
run, my responses, and the feedback dataset page of team owners (export, import)."""

from __future__ import annotations

import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from analysis.models import Analysis
from feedback import selectors, services
from feedback.forms import DatasetImportForm, ResponseForm
from training.models import TrainingSession


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _answer(
    request: HttpRequest,
    *,
    analysis: Analysis | None,
    session: TrainingSession | None,
    back: str,
    context: dict,
) -> HttpResponse:
    questionnaire, response = selectors.questionnaire_for_target(
        user=request.user, analysis=analysis, training_session=session
    )
    context = {**context, "questionnaire": questionnaire, "response": response, "back": back}
    if questionnaire is None:
        return render(request, "feedback/response_form.html", context)
    data = request.POST if request.method == "POST" else None
    form = ResponseForm(data, questionnaire=questionnaire, analysis=analysis, response=response)
    context["form"] = form
    if request.method != "POST":
        return render(request, "feedback/response_form.html", context)
    if form.is_valid():
        try:
            _, created = services.feedback_response_submit(
                user=request.user,
                analysis=analysis,
                training_session=session,
                answers=form.answers(),
            )
        except ValidationError as exc:
            form.add_service_errors(
                exc.message_dict if hasattr(exc, "error_dict") else {"answers": exc.messages}
            )
        else:
            messages.success(
                request, "Thank you for your feedback." if created else "Your answers are updated."
            )
            return redirect(_next_url(request, back))
    return render(request, "feedback/response_form.html", context, status=400)


@login_required
def analysis_response(request: HttpRequest, analysis_id: int) -> HttpResponse:
    analysis = selectors.analysis_for_feedback(user=request.user, analysis_id=analysis_id)
    back = reverse("analysis:detail", args=[analysis.pk])
    return _answer(
        request, analysis=analysis, session=None, back=back, context={"analysis": analysis}
    )


@login_required
def session_response(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.training_session_for_feedback(user=request.user, session_id=session_id)
    back = reverse("training:session-detail", args=[session.pk])
    context = {"session": session, "finished": selectors.session_is_finished(session)}
    if not context["finished"]:
        status = 400 if request.method == "POST" else 200
        return render(
            request, "feedback/response_form.html", {**context, "back": back}, status=status
        )
    return _answer(request, analysis=None, session=session, back=back, context=context)


@login_required
def my_responses(request: HttpRequest) -> HttpResponse:
    responses = selectors.response_list_for_user(user=request.user)
    return render(request, "feedback/my_responses.html", {"responses": responses})


# ---------------------------------------------------------------- the feedback dataset
def _require_dataset_page(request: HttpRequest) -> None:
    if not selectors.dataset_can_export(user=request.user):
        raise PermissionDenied("Only owners of teams allowed to use the feedback dataset.")


@login_required
def dataset(request: HttpRequest) -> HttpResponse:
    _require_dataset_page(request)
    teams = selectors.dataset_teams_for_user(user=request.user)
    summaries = selectors.dataset_summary()
    form = DatasetImportForm(teams=teams, tasks=[s.task for s in summaries if s.images])
    return _dataset_page(request, form, teams, summaries)


def _dataset_page(request, form, teams, summaries, status: int = 200) -> HttpResponse:
    context = {
        "summaries": summaries,
        "teams": teams,
        "form": form,
        "snapshots": selectors.snapshot_list_for_user(user=request.user)[:20],
    }
    return render(request, "feedback/dataset.html", context, status=status)


@login_required
def dataset_export(request: HttpRequest, task: str) -> FileResponse:
    _require_dataset_page(request)
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    try:
        services.feedback_dataset_export(user=request.user, task=task, out=out)
    except ValidationError as exc:
        out.close()
        raise Http404("No such task.") from exc
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return FileResponse(
        out, as_attachment=True, filename=f"feedback-{task}.zip", content_type="application/zip"
    )


@login_required
@require_POST
def dataset_import(request: HttpRequest) -> HttpResponse:
    _require_dataset_page(request)
    teams = selectors.dataset_teams_for_user(user=request.user)
    summaries = selectors.dataset_summary()
    form = DatasetImportForm(
        request.POST, teams=teams, tasks=[s.task for s in summaries if s.images]
    )
    if not form.is_valid():
        return _dataset_page(request, form, teams, summaries, status=400)
    data = form.cleaned_data
    try:
        version = services.feedback_dataset_import(
            user=request.user, team=data["team"], task=data["task"], name=data["name"]
        )
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return _dataset_page(request, form, teams, summaries, status=400)
    messages.success(
        request,
        f"Imported as version {version.number} of “{version.dataset.name}”; it is being "
        "validated like any dataset.",
    )
    return redirect("training:dataset-version-detail", version_id=version.pk)
