"""django-q2 entry points of analysis: load by id, call ml/ and services, record the outcome.
torch is imported only inside the task (never at import time: q2 forks workers)."""

from __future__ import annotations

import io
import logging

from django.conf import settings
from PIL import Image

from analysis import predictors, services
from analysis.models import Analysis

log = logging.getLogger(__name__)


def run_gradcam(analysis_id: int) -> str:
    analysis = Analysis.objects.select_related("model_version").filter(pk=analysis_id).first()
    if analysis is None:  # deleted meanwhile
        return "gone"
    if analysis.gradcam_status == Analysis.GradcamStatus.READY:
        return "ready"
    try:
        import torch

        torch.set_num_threads(settings.TORCH_THREADS)
        from ml.gradcam import gradcam_for_bundle, overlay_png

        ref = predictors.resolve_for_analysis(analysis)
        with analysis.image.open("rb") as fh:
            image = Image.open(io.BytesIO(fh.read())).convert("RGB")
        heatmap = gradcam_for_bundle(ref.bundle_dir, image, class_name=analysis.top_class)
        services.analysis_gradcam_store(analysis=analysis, png=overlay_png(image, heatmap))
    except Exception as exc:
        log.exception("Grad-CAM failed for analysis %s", analysis_id)
        services.analysis_gradcam_store(
            analysis=analysis, png=None, error=f"The heatmap could not be computed ({exc})."
        )
        return "failed"
    return "ready"
