"""Two people watch one training run live: alice (team owner) and bob (member) open the same
session page in two browsers before it starts; the server's own django-q2 worker trains a tiny
model and both pages receive every epoch over the websocket."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.conftest import log_in
from tests.training.factories import make_zip

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Small enough for a couple of seconds per epoch on one CPU thread, big enough to watch.
TRAIN = {
    "image_size": 64,
    "batch_size": 8,
    "eval_batch_size": 16,
    "frozen_epochs": 2,
    "finetune_epochs": 2,
    "unfreeze_blocks": 1,
    "pretrained": False,
    "patience": 0,
    "val_fraction": 0.25,
    "test_fraction": 0.25,
}
TOTAL_EPOCHS = TRAIN["frozen_epochs"] + TRAIN["finetune_epochs"]

# Records, on every change of the page, how many epochs the loss chart and the per-class table
# show: proves the epochs arrive one by one on a page that is already open.
RECORD_JS = """() => {
  window.__seen = [];
  const record = () => {
    const chart = window.Chart && Chart.getChart("chart-loss");
    window.__seen.push({
      points: chart ? chart.data.labels.length : -1,
      epoch: document.querySelector('[data-fact="epoch"]').textContent.trim(),
      rows: document.querySelectorAll("#per-class tbody tr").length,
    });
  };
  record();
  new MutationObserver(record).observe(document.getElementById("session-page"),
    { subtree: true, childList: true, characterData: true, attributes: true });
}"""


def _token(api, username: str, password: str) -> str:
    response = api.post("/api/auth/token", data={"username": username, "password": password})
    assert response.status == 200, response.text()
    return response.json()["token"]


def _ready_dataset_version(live_platform, api, tmp_path) -> int:
    """bob uploads a two-class zip through the REST API; the platform's worker validates it."""
    bob = {"Authorization": "Token " + _token(api, "bob", live_platform.passwords["bob"])}
    teams = api.get("/api/teams", headers=bob)
    assert teams.status == 200, teams.text()
    team_id = next(t["id"] for t in teams.json() if t["name"] == "Demo team")
    archive = make_zip(tmp_path / "colours.zip", {"blue": 12, "red": 12}, size=64)
    upload = api.post(
        "/api/training/datasets",
        headers=bob,
        multipart={
            "team_id": str(team_id),
            "name": "colours (browser test)",
            "task": "colours",
            "archive": {
                "name": archive.name,
                "mimeType": "application/zip",
                "buffer": archive.read_bytes(),
            },
        },
    )
    assert upload.status == 202, upload.text()
    version_id = upload.json()["version"]["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        version = api.get(f"/api/training/datasets/versions/{version_id}", headers=bob).json()
        if version["status"] in ("ready", "failed"):
            break
        time.sleep(0.5)
    assert version["status"] == "ready", (version, live_platform.log_tail())
    return version_id


def test_owner_and_member_watch_the_same_run_live(live_platform, new_session, shot, tmp_path):
    api = new_session().context.request  # bob's REST client (token auth)
    version_id = _ready_dataset_version(live_platform, api, tmp_path)

    # A queued run whose task is held back, so both pages are open before the first epoch.
    out = live_platform.manage_shell(
        "from unittest import mock\n"
        "from django.contrib.auth import get_user_model\n"
        "from training import services\n"
        "from training.models import DatasetVersion\n"
        "bob = get_user_model().objects.get(username='bob')\n"
        f"version = DatasetVersion.objects.get(pk={version_id})\n"
        "with mock.patch('training.services.sessions._enqueue_run'):\n"
        "    s = services.training_session_start(user=bob, dataset_version=version,\n"
        f"        name='watched live', train={TRAIN!r})\n"
        "print('SESSION', s.pk)\n"
    )
    session_id = int(out.split("SESSION")[1].split()[0])

    pages = {}
    for username in ("alice", "bob"):
        page = log_in(new_session(), username, live_platform.passwords[username])
        page.goto(f"/training/sessions/{session_id}/")
        pages[username] = page
    for username, page in pages.items():
        # Both sockets are joined: each page lists both people as watching (presence).
        watchers = page.locator("#watchers")
        for person in ("alice", "bob"):
            watchers.locator(".watcher", has_text=person).wait_for()
        assert page.locator("#status-badge").inner_text().strip() == "queued"
        assert page.locator('[data-fact="epoch"]').inner_text() == "0"
        assert page.locator('[data-fact="total_epochs"]').inner_text() == str(TOTAL_EPOCHS)
        page.evaluate(RECORD_JS)
        shot(page, f"{username}-before")

    # Now the platform's own worker runs it (the same call the start service makes on commit).
    live_platform.manage_shell(
        "from training.models import TrainingSession\n"
        "from training.services.sessions import _enqueue_run\n"
        f"_enqueue_run(TrainingSession.objects.get(pk={session_id}))\n"
    )

    for username, page in pages.items():
        try:
            page.wait_for_function(
                "n => window.Chart && Chart.getChart('chart-loss').data.labels.length === n"
                " && document.querySelector('#status-badge .badge').textContent.trim() === 'done'",
                arg=TOTAL_EPOCHS,
                timeout=120_000,
            )
        except Exception:
            shot(page, f"{username}-timeout")
            pytest.fail(
                f"{username}'s page never showed the finished run:\n{live_platform.log_tail()}"
            )

    for username, page in pages.items():
        shot(page, f"{username}-done")
        seen = page.evaluate("window.__seen")
        points = [s["points"] for s in seen]
        distinct = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        # Every epoch arrived on the open page, one after the other, with no reload.
        assert distinct == list(range(TOTAL_EPOCHS + 1)), (username, seen)
        assert page.evaluate("window.__seen !== undefined")  # still the same document
        assert page.locator('[data-fact="epoch"]').inner_text() == str(TOTAL_EPOCHS)
        assert page.locator("#progress-bar").inner_text() == "100%"
        classes = page.locator("#per-class tbody tr td:first-child").all_inner_texts()
        assert classes == ["blue", "red"]
        assert page.locator("#confusion tr").count() == 3  # header + one row per class
        losses = page.evaluate("Chart.getChart('chart-loss').data.datasets[0].data")
        assert len(losses) == TOTAL_EPOCHS
        assert all(v is not None and v > 0 for v in losses)
        assert page.locator("#best-metrics tbody tr").count() >= 1
        assert page.locator("#live-notice").is_hidden(), "the page fell back to polling"
        # Everyone in the team is told the run finished, live, in the navigation bar.
        page.locator("#notif-count").wait_for(state="visible")
        assert int(page.locator("#notif-count").inner_text()) >= 1
        # Promotion is offered to the owner only.
        promote = page.locator("button", has_text="Promote to registry")
        assert promote.count() == (1 if username == "alice" else 0)

    detail = json.loads(
        live_platform.manage_shell(
            "import json\n"
            "from training.models import TrainingSession\n"
            f"s = TrainingSession.objects.get(pk={session_id})\n"
            "print(json.dumps({'status': s.status, 'epochs': s.epochs.count()}))\n"
        )
        .strip()
        .splitlines()[-1]
    )
    assert detail == {"status": "done", "epochs": TOTAL_EPOCHS}
