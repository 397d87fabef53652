"""Analysis pages: upload, result, history with timeline, comparison, photos (owner-checked)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from analysis import catalog, selectors, services
from analysis.api import AnalyzeRateThrottle
from analysis.downloads import zip_download
from analysis.serializers import AnalysisSerializer
from recommendations.advice import Advice
from skinplatform import panels

STRONG_WARNING_CLASSES = {"mel", "bcc", "akiec"}


class _ThrottleScope:
    throttle_scope = "analyze"


def _throttled(request: HttpRequest) -> int | None:
    """Seconds to wait when the person's analysis rate is exceeded (same limit as the API)."""
    throttle = AnalyzeRateThrottle()
    if throttle.allow_request(request, _ThrottleScope()):
        return None
    return int(throttle.wait() or 1)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    tasks = catalog.available_tasks()
    context = {"tasks": tasks, "selected": request.POST.get("task") or request.GET.get("task")}
    if request.method != "POST":
        return render(request, "analysis/upload.html", context)
    wait = _throttled(request)
    if wait is not None:
        context["error"] = f"You have analysed many photos in a short time; wait {wait} s."
        return render(request, "analysis/upload.html", context, status=429)
    upload_file = request.FILES.get("image")
    try:
        analysis = services.analysis_submit(
            user=request.user,
            task=request.POST.get("task", ""),
            raw=upload_file.read() if upload_file else b"",
            filename=upload_file.name if upload_file else None,
            accept_warnings=request.POST.get("accept_warnings") == "on",
        )
    except services.PhotoNeedsConfirmation as exc:
        context["warnings"] = exc.report.warnings
        return render(request, "analysis/upload.html", context, status=422)
    except (services.PhotoRefused, services.StorageFull) as exc:
        context["error"] = getattr(exc, "message", str(exc))
        return render(request, "analysis/upload.html", context, status=400)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "analysis/upload.html", context, status=400)
    return redirect("analysis:detail", pk=analysis.pk)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
    advice = Advice.from_dict(analysis.advice) if analysis.advice else None
    strong = analysis.top_class in STRONG_WARNING_CLASSES or bool(
        advice and advice.see_dermatologist
    )
    # The advice block carries the dermatologist notice itself when it is shown expanded.
    advice_says_it = bool(advice and advice.see_dermatologist and not analysis.uncertain)
    context = {
        "analysis": analysis,
        "advice": advice,
        "task": catalog.task_info(analysis.task),
        "strong_warning": strong and not advice_says_it,
        "probabilities": analysis.sorted_probabilities,
        "data": AnalysisSerializer(analysis).data,
        "panels": panels.collect("analysis_result", request, analysis),
    }
    return render(request, "analysis/detail.html", context)


@login_required
def photo(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
    field = {
        "image": analysis.image,
        "thumbnail": analysis.thumbnail,
        "gradcam": analysis.gradcam,
    }.get(kind)
    if not field:
        raise Http404("No such picture.")
    response = FileResponse(
        field.open("rb"), content_type="image/png" if kind == "gradcam" else "image/jpeg"
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def gradcam(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
    services.analysis_gradcam_request(analysis=analysis)
    analysis.refresh_from_db()
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(AnalysisSerializer(analysis).data, status=202)
    return redirect("analysis:detail", pk=pk)


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
    services.analysis_note_update(analysis=analysis, note=request.POST.get("note", ""))
    messages.success(request, "Note saved.")
    return redirect("analysis:detail", pk=pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = selectors.analysis_get_for_user(user=request.user, pk=pk)
    services.analysis_delete(analysis=analysis)
    messages.success(request, "The analysis and its photo were deleted.")
    return redirect("analysis:history")


@login_required
def history(request: HttpRequest) -> HttpResponse:
    task = request.GET.get("task") or None
    counts = selectors.analysis_task_counts(user=request.user)
    page = Paginator(
        selectors.analysis_list_for_user(user=request.user, task=task).select_related(
            "model_version"
        ),
        24,
    ).get_page(request.GET.get("page"))
    timeline_task = task or (max(counts, key=counts.get) if counts else None)
    context = {
        "page": page,
        "task": task,
        "counts": counts,
        "tasks": [(catalog.task_info(t), n) for t, n in sorted(counts.items())],
        "timeline": selectors.analysis_timeline(user=request.user, task=timeline_task)
        if timeline_task
        else None,
        "timeline_task": catalog.task_info(timeline_task) if timeline_task else None,
    }
    return render(request, "analysis/history.html", context)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    try:
        ids = [int(request.GET["a"]), int(request.GET["b"])]
    except (KeyError, ValueError):
        messages.info(request, "Pick two analyses to compare.")
        return redirect("analysis:history")
    pair = [selectors.analysis_get_for_user(user=request.user, pk=pk) for pk in ids]
    pair.sort(key=lambda a: a.created_at)
    classes = sorted(set(pair[0].probabilities) | set(pair[1].probabilities))
    rows = [(c, pair[0].probabilities.get(c), pair[1].probabilities.get(c)) for c in classes]
    return render(request, "analysis/compare.html", {"a": pair[0], "b": pair[1], "rows": rows})


@login_required
def delete_all(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("confirm") == "delete":
        n = services.analysis_delete_all(user=request.user)
        messages.success(request, f"Deleted {n} analyses and their photos.")
        return redirect("analysis:history")
    count = selectors.analysis_list_for_user(user=request.user).count()
    return render(request, "analysis/delete_all.html", {"count": count})


@login_required
def export(request: HttpRequest) -> FileResponse:
    return zip_download(services.analysis_export(user=request.user))
