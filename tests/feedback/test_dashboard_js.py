"""The dashboard's script draws one chart per canvas from the JSON the page embeds (run under
Node with a stub DOM and a stub Chart; skipped where Node is absent)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from feedback import services
from tests.feedback.conftest import answers
from tests.feedback.factories import make_analysis

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent
REPO = HERE.parents[1]
NODE = shutil.which("node")


def _page_data(html: str) -> dict:
    scripts = dict(
        re.findall(r'<script id="([^"]+)" type="application/json">(.*?)</script>', html, re.S)
    )
    canvases = []
    for attrs in re.findall(r"<canvas([^>]*)>", html):
        id_ = re.search(r'id="([^"]+)"', attrs)
        cls = re.search(r'class="([^"]+)"', attrs)
        index = re.search(r'data-index="(\d+)"', attrs)
        canvases.append(
            {
                "id": id_.group(1) if id_ else None,
                "className": cls.group(1) if cls else None,
                "dataset": {"index": index.group(1)} if index else {},
            }
        )
    return {"json": scripts, "canvases": canvases}


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_dashboard_script_draws_every_chart(
    client, staff_user, user, analysis_questionnaire, tmp_path
):
    for really in ("nv", "mel", "nv"):
        services.feedback_response_submit(
            user=user,
            analysis=make_analysis(user, top="nv"),
            answers=answers(helpful=4, really=really, doctor=["Yes, a doctor said the same"]),
        )
    client.force_login(staff_user)
    html = client.get(reverse("admin:feedback_dashboard")).content.decode()
    data = _page_data(html)
    page = tmp_path / "page.json"
    page.write_text(json.dumps(data))
    result = subprocess.run(
        [
            NODE,
            str(HERE / "js" / "dashboard_harness.js"),
            str(REPO / "static/feedback/dashboard.js"),
            str(page),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    charts = json.loads(result.stdout)
    assert len(charts) == len(data["canvases"]) == 2 + 4  # models, time, 4 non-text questions
    models = next(c for c in charts if c["canvas"] == "fb-chart-models")
    assert models["datasets"][0]["data"] == [66.7]  # 2 of 3 confirmed
    timeline = next(c for c in charts if c["canvas"] == "fb-chart-time")
    assert timeline["datasets"][0]["data"] == [3]
