"""Real-browser fixtures: one headless Chromium (Playwright, sync API) and one real platform
(`python -m skinplatform.runner`: embedded Redis + uvicorn + django-q2 cluster) per test session,
on a throw-away SQLite database and MEDIA_ROOT.

Everything skips cleanly when Playwright or Chromium is missing. Screenshots go to
var/test-artifacts/browser/<test-name>-<step>.png (and <test-name>-failed-<n>.png on failure)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.skinplatform.test_runner import _free_port, _get, _Output, _start_runner, _wait_for

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Demo accounts created by the runner's seed_demo step (passwords read from its output).
DEMO_USERS = ("admin", "alice", "bob")


def pytest_configure(config):
    # Declared by pytest-xdist; declared here too so `pytest -p no:xdist tests/browser` works.
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker")


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def _playwright():
    """The Playwright driver, or a skip saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (Python package) is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


# ---------------------------------------------------------------- the platform
@dataclass
class Platform:
    """The running platform: its URL, the demo passwords, and a Django shell on its database."""

    base_url: str
    passwords: dict[str, str]
    env: dict[str, str]
    output: _Output

    def manage_shell(self, code: str, timeout: float = 60) -> str:
        """Run `manage.py shell -c code` against the platform's database, Redis and media."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"shell failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def log_tail(self, n: int = 4000) -> str:
        return self.output.text()[-n:]


@pytest.fixture(scope="session")
def live_platform(browser, tmp_path_factory) -> Iterator[Platform]:
    """`python -m skinplatform.runner` on a free port and a fresh database; stopped with Ctrl-C
    (SIGINT) at the end of the session. Depends on `browser` so nothing starts when the tests
    are going to skip anyway."""
    root = tmp_path_factory.mktemp("platform")
    port = _free_port()
    proc, output, env = _start_runner(root, port, TORCH_THREADS="1")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(
            lambda: all(f"DEMO-ACCOUNT {u} " in output.text() for u in DEMO_USERS),
            180,
            "the demo accounts",
            output,
        )
        passwords = dict(re.findall(r"DEMO-ACCOUNT (\w+) (\S+)", output.text()))
        _wait_for(
            lambda: (r := _get(f"{base}/healthz"))[0] == 200 and r[1]["workers"]["ok"],
            180,
            "a healthy platform with a worker",
            output,
        )
        redis_url = re.search(r"embedded Redis on (\S+)", output.text()).group(1)
        yield Platform(
            base_url=base,
            passwords=passwords,
            env={**env, "REDIS_URL": redis_url},
            output=output,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=30)


# ---------------------------------------------------------------- contexts, pages, screenshots
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


@dataclass
class Session:
    """One browser context (its own cookies: one person) and the JS errors its pages raised."""

    context: object
    base_url: str
    page_errors: list[str] = field(default_factory=list)

    def new_page(self):
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        return page


@pytest.fixture
def new_session(browser, live_platform, request) -> Iterator[Callable[[], Session]]:
    """Factory of fresh browser contexts on the platform (one per person in the test). On
    failure every open page is saved as a screenshot."""
    sessions: list[Session] = []

    def make() -> Session:
        context = browser.new_context(
            base_url=live_platform.base_url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(20_000)
        session = Session(context=context, base_url=live_platform.base_url)
        sessions.append(session)
        return session

    yield make
    failed = getattr(request.node, "rep_call", None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    n = 0
    for session in sessions:
        if failed is not None and failed.failed:
            for page in session.context.pages:
                n += 1
                with contextlib.suppress(Exception):
                    page.screenshot(path=ARTIFACTS / f"{_slug(request.node.name)}-failed-{n}.png")
        session.context.close()


@pytest.fixture
def shot(request) -> Callable[..., Path]:
    """shot(page, step): a full-page screenshot at var/test-artifacts/browser/<test>-<step>.png."""

    def take(page, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{_slug(request.node.name)}-{_slug(step)}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


def log_in(session: Session, username: str, password: str):
    """Log in through the real login form; returns the page, on the home page."""
    page = session.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page
