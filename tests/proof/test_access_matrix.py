"""The access matrix, generated from the URLconf: every URL pattern of the platform (pages, API,
admin, health, schema) is classified below, a test fails naming any pattern that is not, and
every endpoint is requested as each of six subjects: anonymous, owner (alice, owns the team),
member (bob), viewer (vera), outsider (carol) and staff (in no team).

Conventions checked (those of the apps' own tests):
- pages: anonymous -> 302 to the log-in page with ?next=; API: anonymous -> 401;
- objects of others (someone's analysis, another team's dataset/run/model) -> 404, outsiders
  never learn they exist; staff are not team members, so the same holds for them;
- a role that may see but not act (viewer; member on owner-only actions) -> 403;
- admin: staff allowed, everyone else (logged in or not) redirected to the admin log-in;
- an unsafe request (POST/PUT/PATCH/DELETE) that is refused changes nothing: every row of every
  model (sessions and log-in bookkeeping aside) and every file under MEDIA_ROOT are the same
  before and after; one that is allowed lands on the right page (redirects are resolved) and
  changes the database (or, where it must not, does not).

The world (tests/proof/world.py) is built once for the module inside a transaction; each test
runs in a savepoint on top of it and gets a fresh copy of its media files, so one subject's
successful DELETE never leaks into the next test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import pytest
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import PASSWORD
from tests.proof.world import SUBJECTS, build_world, db_state, files_state
from tests.training.factories import make_zip

# One xdist worker runs the whole module: its world is built once, not once per batch of tests.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("access-matrix")]

UNSAFE = {"post", "put", "patch", "delete"}


# ================================================================ policies
@dataclass(frozen=True)
class Policy:
    """Who is allowed; what every other subject gets ("login", 403, 404, or a status the view
    answers while refusing, e.g. a form shown again with the error)."""

    name: str
    allowed: frozenset[str]
    denied: dict[str, object] = field(default_factory=dict)

    def outcome(self, subject: str):
        if subject in self.allowed:
            return "allow"
        return self.denied.get(subject, "login" if subject == "anonymous" else None)


def _policy(name: str, allowed: set[str], **denied) -> Policy:
    policy = Policy(name, frozenset(allowed), denied)
    missing = [s for s in SUBJECTS if policy.outcome(s) is None]
    assert not missing, f"{name}: no outcome for {missing}"
    return policy


LOGGED_IN = {"owner", "member", "viewer", "outsider", "staff"}
PUBLIC = _policy("PUBLIC", set(SUBJECTS))
LOGIN_REQUIRED = _policy("LOGIN_REQUIRED (own data only)", LOGGED_IN)
OWNER_ONLY = _policy(
    "OWNER_ONLY (alice's analysis)", {"owner"}, member=404, viewer=404, outsider=404, staff=404
)
TEAM_READ = _policy("TEAM_READ", {"owner", "member", "viewer"}, outsider=404, staff=404)
TEAM_WRITE = _policy("TEAM_WRITE", {"owner", "member"}, viewer=403, outsider=404, staff=404)
TEAM_OWNER = _policy("TEAM_OWNER", {"owner"}, member=403, viewer=403, outsider=404, staff=404)
STAFF_ONLY = _policy("STAFF_ONLY", {"staff"}, owner=403, member=403, viewer=403, outsider=403)
INVITEE = _policy(
    "INVITEE (carol's invitation)", {"outsider"}, owner=404, member=404, viewer=404, staff=404
)
FEEDBACK_DATASET = _policy(
    "FEEDBACK_DATASET (staff, owners of granted teams)",
    {"owner", "staff"},
    member=403,
    viewer=403,
    outsider=403,
)
# Removing vera from the team: the owner removes anyone; a person may remove themself (leave).
OWNER_OR_SELF = _policy(
    "TEAM_OWNER or the member themself (vera leaves)",
    {"owner", "viewer"},
    member=403,
    outsider=404,
    staff=404,
)


# ================================================================ cases
ANY = "any"  # an allowed request that may or may not change rows (e.g. marks *my* items read)


@dataclass(frozen=True)
class Ok:
    """What an allowed subject gets: a status, for a redirect the URL name it must land on, and
    whether an unsafe request changes the database (None: it does when the status is < 400)."""

    status: int
    to: str | None = None
    changes: bool | str | None = None


@dataclass(frozen=True)
class Case:
    key: str  # the URL name (namespace:name), or the route for unnamed admin patterns
    method: str
    policy: Policy
    ok: Ok | dict[str, Ok]
    kwargs: Callable[[dict], dict] = lambda w: {}
    data: Callable[[dict], dict] | None = None
    label: str = ""
    # Another person's data the request must not touch unless the subject is in `changes`.
    target: Callable[[dict], object] | None = None
    target_changers: frozenset[str] = frozenset({"owner"})
    multipart: bool = False

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.key}{' ' + self.label if self.label else ''}"

    def ok_for(self, subject: str) -> Ok:
        return self.ok[subject] if isinstance(self.ok, dict) else self.ok


def kw(**refs: str) -> Callable[[dict], dict]:
    """URL kwargs from the world: kw(team_id="team") -> {"team_id": world["team"].pk}."""
    return lambda w: {arg: w[name].pk for arg, name in refs.items()}


def _zip(w: dict) -> SimpleUploadedFile:
    path = make_zip(w["media"].parent / "upload.zip", {"blue": 3, "red": 3}, size=24)
    return SimpleUploadedFile("colours.zip", path.read_bytes(), content_type="application/zip")


def _alice_analyses(w: dict):
    from analysis.models import Analysis

    return list(Analysis.objects.filter(owner=w["users"]["owner"]).order_by("pk").values())


def _alice_notifications(w: dict):
    from accounts.models import Notification

    return list(Notification.objects.filter(user=w["users"]["owner"]).order_by("pk").values())


def _run_form() -> dict:
    """What the run form posts when nothing is changed, made tiny."""
    from training.forms import RunForm

    form = RunForm(class_counts={"blue": 3, "red": 3})
    data = {}
    for name, form_field in form.fields.items():
        value = form[name].value()
        if isinstance(form_field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    tiny = {"name": "matrix run", "image_size": 32, "frozen_epochs": 1, "finetune_epochs": 1,
            "unfreeze_blocks": 1, "batch_size": 4, "patience": 0, "seed": 7}  # fmt: skip
    return {**data, **tiny}


TINY_TRAIN = {"image_size": 32, "frozen_epochs": 1, "finetune_epochs": 1, "batch_size": 4}
NEW_PASSWORD = "another horse battery 9"
HOME = Ok(302, "home", changes=False)
ANON_PAGE = {"anonymous": Ok(200), **dict.fromkeys(LOGGED_IN, HOME)}  # logged in: sent home

# fmt: off
CASES: list[Case] = [
    # ---------------------------------------------------------------- project
    Case("home", "get", PUBLIC, Ok(200)),
    Case("healthz", "get", PUBLIC, Ok(200)),
    Case("schema", "get", PUBLIC, Ok(200)),
    Case("docs", "get", PUBLIC, Ok(200)),
    # ---------------------------------------------------------------- accounts pages
    Case("accounts:signup", "get", PUBLIC, ANON_PAGE),
    Case("accounts:signup", "post", PUBLIC,
         {"anonymous": Ok(302, "home"), **dict.fromkeys(LOGGED_IN, HOME)},
         data=lambda w: {"username": "newbie", "email": "newbie@example.com",
                         "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
    Case("accounts:login", "get", PUBLIC, ANON_PAGE),
    Case("accounts:login", "post", PUBLIC,
         {"anonymous": Ok(302, "home"), **dict.fromkeys(LOGGED_IN, HOME)},
         data=lambda w: {"username": "alice", "password": PASSWORD}),
    Case("accounts:logout", "post", PUBLIC, Ok(302, "home", changes=False)),
    Case("accounts:password-change", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts:password-change", "post", LOGIN_REQUIRED,
         Ok(302, "accounts:password-change-done"),
         data=lambda w: {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                         "new_password2": NEW_PASSWORD}),
    Case("accounts:password-change-done", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts:password-reset", "get", PUBLIC, Ok(200)),
    Case("accounts:password-reset", "post", PUBLIC,
         Ok(302, "accounts:password-reset-done", changes=False),
         data=lambda w: {"email": "alice@example.com"}),
    Case("accounts:password-reset-done", "get", PUBLIC, Ok(200)),
    Case("accounts:password-reset-confirm", "get", PUBLIC,
         Ok(302, "accounts:password-reset-confirm"),
         kwargs=lambda w: {"uidb64": urlsafe_base64_encode(force_bytes(w["users"]["owner"].pk)),
                           "token": default_token_generator.make_token(w["users"]["owner"])}),
    Case("accounts:password-reset-complete", "get", PUBLIC, Ok(200)),
    Case("accounts:profile", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts:profile", "post", LOGIN_REQUIRED, Ok(302, "accounts:profile"),
         data=lambda w: {"display_name": "Someone", "skin_type": ""}),
    Case("accounts:token-rotate", "post", LOGIN_REQUIRED, Ok(302, "accounts:profile")),
    Case("accounts:team-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts:team-list", "post", LOGIN_REQUIRED, Ok(302, "accounts:team-detail"),
         data=lambda w: {"name": "Another team"}),
    Case("accounts:team-detail", "get", TEAM_READ, Ok(200), kwargs=kw(team_id="team")),
    # The page shows the refusal as a message on the form (200), like a validation error.
    Case("accounts:team-detail", "post",
         _policy("TEAM_OWNER (refusal shown on the page)", {"owner"}, member=200, viewer=200,
                 outsider=404, staff=404),
         Ok(302, "accounts:team-detail"), kwargs=kw(team_id="team"),
         data=lambda w: {"identifier": "newperson@example.com", "role": "member"}),
    Case("accounts:member-remove", "post", OWNER_OR_SELF,
         {"owner": Ok(302, "accounts:team-detail"), "viewer": Ok(302, "accounts:team-list")},
         kwargs=lambda w: {"team_id": w["team"].pk, "user_id": w["users"]["viewer"].pk}),
    Case("accounts:member-role", "post", TEAM_OWNER, Ok(302, "accounts:team-detail"),
         kwargs=lambda w: {"team_id": w["team"].pk, "user_id": w["users"]["member"].pk},
         data=lambda w: {"role": "viewer"}),
    Case("accounts:invitation-answer", "post", INVITEE, Ok(302, "accounts:team-list"),
         kwargs=kw(invitation_id="invitation"), data=lambda w: {"answer": "accept"}),
    Case("accounts:invitation-revoke", "post", TEAM_OWNER, Ok(302, "accounts:team-detail"),
         kwargs=kw(invitation_id="invitation")),
    Case("accounts:notifications", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts:notifications", "post", LOGIN_REQUIRED,
         {"owner": Ok(302, "accounts:notifications"),
          **dict.fromkeys(LOGGED_IN - {"owner"}, Ok(302, "accounts:notifications", changes=ANY))},
         target=_alice_notifications),
    # ---------------------------------------------------------------- accounts API
    Case("accounts-api:me", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts-api:me", "patch", LOGIN_REQUIRED, Ok(200),
         data=lambda w: {"display_name": "Me"}),
    Case("accounts-api:token", "post", PUBLIC, Ok(200, changes=False),
         data=lambda w: {"username": "alice", "password": PASSWORD}),
    Case("accounts-api:team-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts-api:team-list", "post", LOGIN_REQUIRED, Ok(201),
         data=lambda w: {"name": "API team"}),
    Case("accounts-api:team-detail", "get", TEAM_READ, Ok(200), kwargs=kw(team_id="team")),
    Case("accounts-api:team-invite", "post", TEAM_OWNER, Ok(201),
         kwargs=kw(team_id="team"),
         data=lambda w: {"identifier": "newperson@example.com"}),
    Case("accounts-api:team-member", "patch", TEAM_OWNER, Ok(200),
         kwargs=lambda w: {"team_id": w["team"].pk, "user_id": w["users"]["member"].pk},
         data=lambda w: {"role": "viewer"}),
    Case("accounts-api:team-member", "delete", OWNER_OR_SELF, Ok(204),
         kwargs=lambda w: {"team_id": w["team"].pk, "user_id": w["users"]["viewer"].pk}),
    Case("accounts-api:invitation-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts-api:invitation-answer", "post", INVITEE, Ok(204),
         kwargs=kw(invitation_id="invitation"), data=lambda w: {"accept": True}),
    Case("accounts-api:notification-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("accounts-api:notification-read", "post", LOGIN_REQUIRED,
         {"owner": Ok(200), **dict.fromkeys(LOGGED_IN - {"owner"}, Ok(200, changes=ANY))},
         data=lambda w: {}, target=_alice_notifications),
    Case("accounts-api:ping", "post", LOGIN_REQUIRED, Ok(202)),
    # ---------------------------------------------------------------- analysis pages
    Case("analysis:upload", "get", LOGIN_REQUIRED, Ok(200)),
    # Allowed = the view ran: no photo sent, so a clear 400 (no model needed, nothing stored).
    Case("analysis:upload", "post", LOGIN_REQUIRED, Ok(400, changes=False),
         data=lambda w: {"task": "lesions"}),
    Case("analysis:history", "get", LOGIN_REQUIRED, Ok(200)),
    Case("analysis:compare", "get", OWNER_ONLY, Ok(200),
         data=lambda w: {"a": w["analysis"].pk, "b": w["analysis_b"].pk}),
    Case("analysis:delete-all", "get", LOGIN_REQUIRED, Ok(200)),
    Case("analysis:delete-all", "post", LOGIN_REQUIRED,
         {"owner": Ok(302, "analysis:history"),
          **dict.fromkeys(LOGGED_IN - {"owner"}, Ok(302, "analysis:history", changes=ANY))},
         data=lambda w: {"confirm": "delete"}, target=_alice_analyses),
    Case("analysis:export", "get", LOGIN_REQUIRED, Ok(200)),
    Case("analysis:detail", "get", OWNER_ONLY, Ok(200), kwargs=kw(pk="analysis")),
    Case("analysis:photo", "get", OWNER_ONLY, Ok(200),
         kwargs=lambda w: {"pk": w["analysis"].pk, "kind": "image"}),
    Case("analysis:gradcam", "post", OWNER_ONLY, Ok(302, "analysis:detail"),
         kwargs=kw(pk="analysis")),
    Case("analysis:note", "post", OWNER_ONLY, Ok(302, "analysis:detail"),
         kwargs=kw(pk="analysis"), data=lambda w: {"note": "itchy"}),
    Case("analysis:delete", "post", OWNER_ONLY, Ok(302, "analysis:history"),
         kwargs=kw(pk="analysis")),
    # ---------------------------------------------------------------- analysis API
    Case("analysis-api:analyze", "post", LOGIN_REQUIRED, Ok(400, changes=False),
         data=lambda w: {"task": "lesions"}),
    Case("analysis-api:list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("analysis-api:list", "delete", LOGIN_REQUIRED,
         {"owner": Ok(200), **dict.fromkeys(LOGGED_IN - {"owner"}, Ok(200, changes=ANY))},
         target=_alice_analyses),
    Case("analysis-api:export", "get", LOGIN_REQUIRED, Ok(200)),
    Case("analysis-api:timeline", "get", LOGIN_REQUIRED, Ok(200),
         data=lambda w: {"task": "lesions"}),
    Case("analysis-api:detail", "get", OWNER_ONLY, Ok(200), kwargs=kw(pk="analysis")),
    Case("analysis-api:detail", "patch", OWNER_ONLY, Ok(200),
         kwargs=kw(pk="analysis"), data=lambda w: {"note": "itchy"}),
    Case("analysis-api:detail", "delete", OWNER_ONLY, Ok(204), kwargs=kw(pk="analysis")),
    Case("analysis-api:gradcam", "post", OWNER_ONLY, Ok(202), kwargs=kw(pk="analysis")),
    # ---------------------------------------------------------------- training pages
    Case("training:dataset-list", "get", LOGIN_REQUIRED, Ok(200)),
    # The team field offers only teams where the person may upload: others get the form back.
    Case("training:dataset-list", "post",
         _policy("TEAM_WRITE (team not offered: form shown again)", {"owner", "member"},
                 viewer=200, outsider=200, staff=200),
         Ok(302, "training:dataset-version-detail"), multipart=True,
         data=lambda w: {"team": w["team"].pk, "name": "colours 2", "task": "colours",
                         "archive": _zip(w), "group_column": "lesion_id",
                         "id_column": "image_id"}),
    Case("training:dataset-register-folder", "get", STAFF_ONLY, Ok(200)),
    Case("training:dataset-register-folder", "post", STAFF_ONLY, Ok(302, "training:dataset-list"),
         data=lambda w: {"team": w["team"].pk, "name": "server", "task": "colours",
                         "path": str(w["folder"]), "group_column": "lesion_id",
                         "id_column": "image_id"}),
    Case("training:dataset-detail", "get", TEAM_READ, Ok(200), kwargs=kw(dataset_id="dataset")),
    Case("training:dataset-detail", "post", TEAM_WRITE, Ok(302, "training:dataset-version-detail"),
         kwargs=kw(dataset_id="dataset"), multipart=True,
         data=lambda w: {"archive": _zip(w), "group_column": "lesion_id", "id_column": "image_id"}),
    Case("training:dataset-delete", "post", TEAM_OWNER, Ok(302, "training:dataset-list"),
         kwargs=kw(dataset_id="spare_dataset")),
    Case("training:dataset-version-detail", "get", TEAM_READ, Ok(200),
         kwargs=kw(version_id="version")),
    Case("training:dataset-version-thumb", "get", TEAM_READ, Ok(200),
         kwargs=lambda w: {"version_id": w["version"].pk, "path": "blue/blue_000.png"}),
    Case("training:session-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("training:session-new", "get", LOGIN_REQUIRED, Ok(200), label="(step 1)"),
    Case("training:session-new", "get", TEAM_READ, Ok(200), label="(steps 2-3)",
         data=lambda w: {"version": w["version"].pk}),
    Case("training:session-new", "post", TEAM_WRITE, Ok(302, "training:session-detail"),
         data=lambda w: {"version": w["version"].pk, **_run_form()}),
    Case("training:session-compare", "get", TEAM_READ, Ok(200),
         data=lambda w: {"ids": [w["done"].pk, w["failed"].pk]}),
    Case("training:session-detail", "get", TEAM_READ, Ok(200), kwargs=kw(session_id="running")),
    Case("training:session-cancel", "post", TEAM_WRITE, Ok(302, "training:session-detail"),
         kwargs=kw(session_id="running")),
    Case("training:session-resume", "post", TEAM_WRITE, Ok(302, "training:session-detail"),
         kwargs=kw(session_id="failed")),
    Case("training:session-clone", "get", TEAM_READ, Ok(200), kwargs=kw(session_id="done")),
    Case("training:session-clone", "post", TEAM_WRITE, Ok(302, "training:session-detail"),
         kwargs=kw(session_id="done"), data=lambda w: _run_form()),
    Case("training:session-promote", "post", TEAM_OWNER, Ok(302, "training:model-detail"),
         kwargs=kw(session_id="done")),
    Case("training:model-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("training:model-detail", "get", TEAM_READ, Ok(200), kwargs=kw(model_version_id="model")),
    Case("training:model-set-production", "post", TEAM_OWNER, Ok(302, "training:model-detail"),
         kwargs=kw(model_version_id="model")),
    # ---------------------------------------------------------------- training API
    Case("training-api:dataset-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("training-api:dataset-list", "post", TEAM_WRITE, Ok(202), multipart=True,
         data=lambda w: {"team_id": w["team"].pk, "name": "colours 2", "task": "colours",
                         "archive": _zip(w)}),
    Case("training-api:dataset-register-folder", "post", STAFF_ONLY, Ok(202),
         data=lambda w: {"team_id": w["team"].pk, "name": "server", "task": "colours",
                         "path": str(w["folder"])}),
    Case("training-api:dataset-detail", "get", TEAM_READ, Ok(200), kwargs=kw(dataset_id="dataset")),
    Case("training-api:dataset-detail", "delete", TEAM_OWNER, Ok(204),
         kwargs=kw(dataset_id="spare_dataset")),
    Case("training-api:dataset-version-upload", "post", TEAM_WRITE, Ok(202), multipart=True,
         kwargs=kw(dataset_id="dataset"), data=lambda w: {"archive": _zip(w)}),
    Case("training-api:dataset-version-detail", "get", TEAM_READ, Ok(200),
         kwargs=kw(version_id="version")),
    Case("training-api:dataset-version-suggest", "get", TEAM_READ, Ok(200),
         kwargs=kw(version_id="version")),
    Case("training-api:session-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("training-api:session-list", "post", TEAM_WRITE, Ok(202),
         data=lambda w: {"dataset_version_id": w["version"].pk, "train": TINY_TRAIN}),
    Case("training-api:session-compare", "get", TEAM_READ, Ok(200),
         data=lambda w: {"ids": f"{w['done'].pk},{w['failed'].pk}"}),
    Case("training-api:session-detail", "get", TEAM_READ, Ok(200),
         kwargs=kw(session_id="running")),
    Case("training-api:session-cancel", "post", TEAM_WRITE, Ok(200),
         kwargs=kw(session_id="running")),
    Case("training-api:session-resume", "post", TEAM_WRITE, Ok(202),
         kwargs=kw(session_id="failed")),
    Case("training-api:session-clone", "post", TEAM_WRITE, Ok(202),
         kwargs=kw(session_id="done"), data=lambda w: {"train": TINY_TRAIN}),
    Case("training-api:session-promote", "post", TEAM_OWNER, Ok(202),
         kwargs=kw(session_id="done"), data=lambda w: {}),
    Case("training-api:model-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("training-api:model-detail", "get", TEAM_READ, Ok(200),
         kwargs=kw(model_version_id="model")),
    Case("training-api:model-set-production", "post", TEAM_OWNER, Ok(200),
         kwargs=kw(model_version_id="model")),
    # ---------------------------------------------------------------- recommendations
    Case("recommendations:condition-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("recommendations:condition-detail", "get", LOGIN_REQUIRED, Ok(200),
         kwargs=lambda w: {"task": "lesions", "key": "mel"}),
    Case("recommendations-api:condition-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("recommendations-api:condition-detail", "get", LOGIN_REQUIRED, Ok(200),
         kwargs=kw(pk="condition")),
    Case("recommendations-api:product-list", "get", LOGIN_REQUIRED, Ok(200)),
    Case("recommendations-api:product-detail", "get", LOGIN_REQUIRED, Ok(200),
         kwargs=kw(pk="product")),
    Case("recommendations-api:category-list", "get", LOGIN_REQUIRED, Ok(200)),
    # ---------------------------------------------------------------- feedback pages
    Case("feedback:my-responses", "get", LOGIN_REQUIRED, Ok(200)),
    Case("feedback:analysis-response", "get", OWNER_ONLY, Ok(200),
         kwargs=kw(analysis_id="analysis")),
    Case("feedback:analysis-response", "post", OWNER_ONLY, Ok(302, "analysis:detail"),
         kwargs=kw(analysis_id="analysis"), data=lambda w: {"q_helpful": "5"}),
    Case("feedback:session-response", "get", TEAM_READ, Ok(200),
         kwargs=kw(session_id="done")),
    Case("feedback:session-response", "post", TEAM_READ, Ok(302, "training:session-detail"),
         kwargs=kw(session_id="done"), data=lambda w: {"q_charts": "5"}),
    Case("feedback:dataset", "get", FEEDBACK_DATASET, Ok(200)),
    # Staff may use the page but import only into a team they own (none here): form shown again.
    Case("feedback:dataset-import", "post", FEEDBACK_DATASET,
         {"owner": Ok(302, "training:dataset-version-detail"), "staff": Ok(400, changes=False)},
         data=lambda w: {"team": w["team"].pk, "task": "lesions"}),
    Case("feedback:dataset-export", "get", FEEDBACK_DATASET, Ok(200),
         kwargs=lambda w: {"task": "lesions"}),
    # ---------------------------------------------------------------- feedback API
    Case("feedback-api:analysis-questionnaire", "get", OWNER_ONLY, Ok(200),
         kwargs=kw(analysis_id="analysis")),
    Case("feedback-api:analysis-response", "get", OWNER_ONLY, Ok(200),
         kwargs=kw(analysis_id="analysis")),
    Case("feedback-api:analysis-response", "put", OWNER_ONLY, Ok(200),
         kwargs=kw(analysis_id="analysis"),
         data=lambda w: {"answers": [{"question": "helpful", "rating": 5}]}),
    Case("feedback-api:session-questionnaire", "get", TEAM_READ, Ok(200),
         kwargs=kw(session_id="done")),
    Case("feedback-api:session-response", "get", TEAM_READ, Ok(200),
         kwargs=kw(session_id="done")),
    Case("feedback-api:session-response", "put", TEAM_READ, Ok(200),
         kwargs=kw(session_id="done"),
         data=lambda w: {"answers": [{"question": "charts", "rating": 5}]}),
    Case("feedback-api:my-responses", "get", LOGIN_REQUIRED, Ok(200)),
    Case("feedback-api:aggregates", "get", STAFF_ONLY, Ok(200)),
    Case("feedback-api:model-accuracy", "get", STAFF_ONLY, Ok(200)),
    Case("feedback-api:dataset", "get", FEEDBACK_DATASET, Ok(200)),
    Case("feedback-api:dataset-export", "get", FEEDBACK_DATASET, Ok(200),
         kwargs=lambda w: {"task": "lesions"}),
    # The team is looked up first (404 for people outside it), then the grant (403).
    Case("feedback-api:dataset-import", "post",
         _policy("FEEDBACK_DATASET + team member", {"owner"}, member=403, viewer=403,
                 outsider=404, staff=404),
         Ok(202), kwargs=lambda w: {"task": "lesions"}, data=lambda w: {"team_id": w["team"].pk}),
]
# fmt: on


# ================================================================ the URLconf, walked
@dataclass(frozen=True)
class Route:
    key: str
    route: str
    pattern: URLPattern

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def url_routes() -> list[Route]:
    """Every URLPattern of the project, with nested includes and the admin."""
    out: list[Route] = []

    def walk(resolver: URLResolver, prefix: str, namespace: str | None) -> None:
        for item in resolver.url_patterns:
            if isinstance(item, URLResolver):
                ns = namespace
                if item.namespace:
                    ns = f"{namespace}:{item.namespace}" if namespace else item.namespace
                walk(item, prefix + str(item.pattern), ns)
            else:
                route = prefix + str(item.pattern)
                name = f"{namespace}:{item.name}" if namespace and item.name else item.name
                out.append(Route(name or route, route, item))

    walk(get_resolver(), "", None)
    return out


def _implemented_methods(pattern: URLPattern) -> set[str]:
    cls = getattr(pattern.callback, "cls", None)  # a DRF APIView
    if cls is None:
        return set()
    return {m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}


def test_every_url_pattern_is_classified():
    """A new URL without a row in CASES fails here, by name: classify it (and so test it)."""
    routes = url_routes()
    classified = {c.key for c in CASES}
    unclassified = [
        f"{r.key} ({r.route})" for r in routes if not r.is_admin and r.key not in classified
    ]
    assert not unclassified, "URL patterns with no access policy in CASES: " + ", ".join(
        unclassified
    )
    stale = classified - {r.key for r in routes}
    assert not stale, f"CASES name URLs that no longer exist: {sorted(stale)}"
    assert len({c.id for c in CASES}) == len(CASES), "two cases share an id"


def test_every_method_of_every_api_view_is_classified():
    by_key = {}
    for case in CASES:
        by_key.setdefault(case.key, set()).add(case.method)
    missing = []
    for route in url_routes():
        if route.is_admin:
            continue
        for method in _implemented_methods(route.pattern) - by_key.get(route.key, set()):
            missing.append(f"{method.upper()} {route.key}")
    assert not missing, f"API methods with no access case: {missing}"


def test_every_admin_url_is_covered_by_the_admin_matrix():
    admin_routes = [r for r in url_routes() if r.is_admin]
    assert len(admin_routes) == len(ADMIN_CASES)
    assert len(admin_routes) > 100  # every registered model: sanity check of the walk itself


# ================================================================ the module's world
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    root = tmp_path_factory.mktemp("access-matrix")
    live, pristine = root / "media", root / "pristine"
    live.mkdir()
    with override_settings(MEDIA_ROOT=live), django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = build_world(live)
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    shutil.copytree(live, pristine)
    built |= {"media": live, "pristine": pristine}
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def _listing(root) -> list:
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.fixture(autouse=True)
def _media_root(world, settings):
    """Overrides tests/conftest.py: the world's media, restored after a test changed it."""
    settings.MEDIA_ROOT = world["media"]
    cache.clear()
    listing = _listing(world["media"])
    yield world["media"]
    if _listing(world["media"]) != listing:
        shutil.rmtree(world["media"])
        shutil.copytree(world["pristine"], world["media"])


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


# One request handler for every client: a new handler loads the middleware again, and
# WhiteNoise's start-up (scanning every static file) would then cost ~60 ms per request.
_HANDLER = ClientHandler(enforce_csrf_checks=False)


def client_for(subject: str, world: dict, *, api: bool) -> Client:
    """API: the subject's token; pages: the session cookie of a log-in made with the world."""
    client = Client()
    client.handler = _HANDLER
    if subject != "anonymous":
        if api:
            client.defaults["HTTP_AUTHORIZATION"] = f"Token {world['tokens'][subject]}"
        else:
            client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][subject]
    return client


def send(client: Client, method: str, path: str, data: dict | None, *, api: bool, multipart: bool):
    if method == "get":
        return client.get(path, data or {})
    if api and not multipart:
        return getattr(client, method)(
            path, json.dumps(data or {}), content_type="application/json"
        )
    if method == "post":
        return client.post(path, data or {})
    return getattr(client, method)(path)


def _lands_on(response, name: str) -> bool:
    location = urlparse(response["Location"])
    return resolve(location.path).view_name == name


def _login_redirect(response, path: str, login: str) -> bool:
    if response.status_code != 302:
        return False
    location = urlparse(response["Location"])
    following = parse_qs(location.query).get("next", [""])[0]
    return location.path == login and urlparse(following).path == path


def check(case: Case, subject: str, world: dict, path: str, response, before, after) -> None:
    api = _is_api(path)
    outcome = case.policy.outcome(subject)
    where = f"{case.id} as {subject} -> {response.status_code}"
    if outcome == "allow":
        ok = case.ok_for(subject)
        assert response.status_code == ok.status, f"{where}, expected {ok.status}"
        if ok.to:
            assert _lands_on(response, ok.to), f"{where} to {response['Location']}, not {ok.to}"
        if before is not None:
            changes = ok.changes if ok.changes is not None else ok.status < 400
            db_before, files_before, target_before = before
            db_after, files_after, target_after = after
            if changes == ANY:
                pass
            elif changes:
                assert db_after != db_before, f"{where}: allowed, yet nothing changed"
            else:
                assert db_after == db_before, f"{where}: changed {_diff(db_before, db_after)}"
            if case.target is not None and subject not in case.target_changers:
                assert target_after == target_before, f"{where}: touched another's data"
        return
    if outcome == "login":
        if api:
            assert response.status_code == 401, where
        else:
            assert _login_redirect(response, path, reverse("accounts:login")), where
    elif outcome == "admin-login":
        assert _login_redirect(response, path, reverse("admin:login")), where
    else:
        assert response.status_code == outcome, f"{where}, expected {outcome}"
    if before is not None:
        assert after[0] == before[0], f"{where}: refused, yet changed {_diff(before[0], after[0])}"
        assert after[1] == before[1], f"{where}: refused, yet files changed"


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _snapshot(case: Case, world: dict):
    target = case.target(world) if case.target else None
    return db_state(), files_state(world["media"]), target


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_access(case: Case, subject: str, world):
    api = reverse(case.key, kwargs=case.kwargs(world)).startswith("/api/")
    client = client_for(subject, world, api=api)  # before the kwargs: a log-in changes tokens
    path = reverse(case.key, kwargs=case.kwargs(world))
    data = case.data(world) if case.data else None
    unsafe = case.method in UNSAFE
    before = _snapshot(case, world) if unsafe else None
    response = send(client, case.method, path, data, api=api, multipart=case.multipart)
    after = _snapshot(case, world) if unsafe else None
    check(case, subject, world, path, response, before, after)


# ================================================================ objects of two teams mixed
@dataclass(frozen=True)
class Mixed:
    """A request on alice's side that names an object of carol's team (or the reverse)."""

    label: str
    subject: str
    method: str
    url: Callable[[dict], str]
    expected: int
    data: Callable[[dict], dict] | None = None


# fmt: off
MIXED = [
    Mixed("compare my analysis with carol's", "owner", "get",
          lambda w: reverse("analysis:compare"), 404,
          lambda w: {"a": w["analysis"].pk, "b": w["carol_analysis"].pk}),
    Mixed("compare my run with carol's (page)", "owner", "get",
          lambda w: reverse("training:session-compare"), 404,
          lambda w: {"ids": [w["done"].pk, w["carol_session"].pk]}),
    Mixed("compare my run with carol's (API)", "owner", "get",
          lambda w: reverse("training-api:session-compare"), 404,
          lambda w: {"ids": f"{w['done'].pk},{w['carol_session'].pk}"}),
    Mixed("start a run on carol's dataset version (API)", "member", "post",
          lambda w: reverse("training-api:session-list"), 404,
          lambda w: {"dataset_version_id": w["carol_version"].pk, "train": TINY_TRAIN}),
    Mixed("start a run on carol's dataset version (page)", "member", "post",
          lambda w: reverse("training:session-new"), 404,
          lambda w: {"version": w["carol_version"].pk, **_run_form()}),
    Mixed("clone my run onto carol's dataset version", "member", "post",
          lambda w: reverse("training-api:session-clone", args=[w["done"].pk]), 404,
          lambda w: {"dataset_version_id": w["carol_version"].pk}),
    Mixed("clone carol's run onto my dataset version", "member", "post",
          lambda w: reverse("training-api:session-clone", args=[w["carol_session"].pk]), 404,
          lambda w: {"dataset_version_id": w["version"].pk}),
    Mixed("promote carol's run", "owner", "post",
          lambda w: reverse("training-api:session-promote", args=[w["carol_session"].pk]), 404),
    Mixed("change the role of carol, not in my team", "owner", "patch",
          lambda w: reverse("accounts-api:team-member",
                            args=[w["team"].pk, w["users"]["outsider"].pk]), 404,
          lambda w: {"role": "viewer"}),
    Mixed("remove carol, not in my team (page)", "owner", "post",
          lambda w: reverse("accounts:member-remove",
                            args=[w["team"].pk, w["users"]["outsider"].pk]), 404),
    Mixed("revoke carol's team's invitation", "owner", "post",
          lambda w: reverse("accounts:invitation-revoke", args=[w["carol_invitation"].pk]), 404),
    Mixed("answer bob's invitation to carol's team", "owner", "post",
          lambda w: reverse("accounts-api:invitation-answer", args=[w["carol_invitation"].pk]),
          404, lambda w: {"accept": True}),
    Mixed("invite into carol's team", "owner", "post",
          lambda w: reverse("accounts-api:team-invite", args=[w["carol_team"].pk]), 404,
          lambda w: {"identifier": "newperson@example.com"}),
    Mixed("upload a dataset into carol's team (API)", "owner", "post",
          lambda w: reverse("training-api:dataset-list"), 404,
          lambda w: {"team_id": w["carol_team"].pk, "name": "x", "task": "colours",
                     "archive": _zip(w)}),
    Mixed("import the feedback dataset into carol's team", "owner", "post",
          lambda w: reverse("feedback-api:dataset-import", args=["lesions"]), 404,
          lambda w: {"team_id": w["carol_team"].pk}),
    Mixed("import the feedback dataset into carol's team (page)", "owner", "post",
          lambda w: reverse("feedback:dataset-import"), 400,
          lambda w: {"team": w["carol_team"].pk, "task": "lesions"}),
    Mixed("a thumbnail of carol's dataset through my version", "viewer", "get",
          lambda w: reverse("training:dataset-version-thumb", args=[
              w["version"].pk, f"../../{w['carol_team'].pk}/xyz/blue/blue_000.png"]),
          404),
    Mixed("answer about carol's analysis", "owner", "put",
          lambda w: reverse("feedback-api:analysis-response", args=[w["carol_analysis"].pk]), 404,
          lambda w: {"answers": [{"question": "helpful", "rating": 1}]}),
    Mixed("carol's analysis photo", "owner", "get",
          lambda w: reverse("analysis:photo", args=[w["carol_analysis"].pk, "image"]), 404),
]
# fmt: on


@pytest.mark.parametrize("mixed", MIXED, ids=lambda m: m.label)
def test_an_object_of_another_team_mixed_into_a_request_is_refused(mixed: Mixed, world):
    url = mixed.url(world)
    api = _is_api(url)
    client = client_for(mixed.subject, world, api=api)
    data = mixed.data(world) if mixed.data else None
    multipart = api and data is not None and "archive" in data
    before = db_state(), files_state(world["media"])
    response = send(client, mixed.method, url, data, api=api, multipart=multipart)
    after = db_state(), files_state(world["media"])
    assert response.status_code == mixed.expected, f"{mixed.label}: {response.status_code}"
    assert after[0] == before[0], f"{mixed.label}: changed {_diff(before[0], after[0])}"
    assert after[1] == before[1], f"{mixed.label}: files changed"


# ================================================================ CSRF
_CSRF_HANDLER = ClientHandler(enforce_csrf_checks=True)
CSRF_CASES = [
    c
    for c in CASES
    if c.method in UNSAFE and not (c.key.startswith("accounts-api:token"))  # no session: no CSRF
]


@pytest.mark.parametrize("case", CSRF_CASES, ids=lambda c: c.id)
def test_unsafe_requests_without_the_csrf_token_are_refused(case: Case, world):
    """A cross-site form or script riding an allowed person's session cookie gets 403 and
    changes nothing, on pages and on the API alike (no view is csrf-exempt by mistake)."""
    subject = next((s for s in ("owner", "member", "viewer", "outsider", "staff")
                    if case.policy.outcome(s) == "allow"), "anonymous")  # fmt: skip
    client = Client()
    client.handler = _CSRF_HANDLER
    if subject != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][subject]
    path = reverse(case.key, kwargs=case.kwargs(world))
    data = case.data(world) if case.data else None
    before = db_state(), files_state(world["media"])
    response = send(client, case.method, path, data, api=_is_api(path), multipart=case.multipart)
    after = db_state(), files_state(world["media"])
    assert response.status_code == 403, f"{case.id} as {subject} -> {response.status_code}"
    assert after == before


# ================================================================ the admin
# What staff get from the admin URLs that are not a plain 200 page. 403 only where the admin
# refuses even a superuser (the model admin's has_*_permission says no for everyone).
ADMIN_STAFF = {
    "admin:login": Ok(302, "admin:index"),
    "admin:logout": Ok(405),  # POST only
    "admin:autocomplete": Ok(403),  # without its query parameters
    "admin:view_on_site": Ok(404),  # Team has no public page
    "admin/(?P<url>.*)$": Ok(404),  # the catch-all, for an unknown admin page
}


def _admin_kwargs(route: Route, world: dict) -> dict:
    """Fill the admin URL kwargs with a real row of that model admin's own queryset."""
    converters = route.pattern.pattern.converters
    names = set(converters) | set(route.pattern.pattern.regex.groupindex)
    kwargs: dict = {}
    model_admin = getattr(route.pattern.callback, "model_admin", None)
    if "object_id" in names and model_admin is not None:
        request = RequestFactory().get("/")
        request.user = world["users"]["staff"]
        row = model_admin.get_queryset(request).order_by("pk").first()
        assert row is not None, f"the world has no {model_admin.model._meta.label} row"
        kwargs["object_id"] = row.pk
    if "id" in names:
        kwargs["id"] = world["users"]["owner"].pk
    if route.key == "admin:view_on_site":
        kwargs = {
            "content_type_id": ContentType.objects.get_for_model(world["team"]).pk,
            "object_id": world["team"].pk,
        }
    if "app_label" in names:
        kwargs["app_label"] = "accounts"
    if "url" in names:
        kwargs["url"] = "no-such-page/"
    return kwargs


_ADMIN_PATHS: dict[tuple[int, str], str] = {}


def _admin_path(route: Route, world: dict) -> str:
    """The URL of an admin route (computed once per world: its rows do not change)."""
    key = (id(world), route.route)
    if key not in _ADMIN_PATHS:
        _ADMIN_PATHS[key] = _build_admin_path(route, world)
    return _ADMIN_PATHS[key]


def _build_admin_path(route: Route, world: dict) -> str:
    kwargs = _admin_kwargs(route, world)
    if route.pattern.name:
        return reverse(f"admin:{route.pattern.name}", kwargs=kwargs)
    # Unnamed patterns: the RedirectView to the change page, and the catch-all.
    if "url" in kwargs:
        return "/admin/" + kwargs["url"]
    prefix = route.route.split("<path:object_id>")[0]
    return f"/{prefix}{kwargs['object_id']}/"


def _admin_expected(route: Route, world: dict, path: str, subject: str) -> Ok | str:
    if route.key == "admin:login":
        return ADMIN_STAFF["admin:login"] if subject == "staff" else Ok(200)
    if route.key == "admin:logout" and subject != "staff":
        # admin_view sends a non-staff visitor of the log-out page to the index (then log-in).
        return Ok(302, "admin:index")
    if subject != "staff":
        return "admin-login"
    if route.key in ADMIN_STAFF:
        return ADMIN_STAFF[route.key]
    if route.pattern.name is None and "<path:object_id>" in route.route:
        return Ok(302)  # the old-style object URL redirects to its change page
    model_admin = getattr(route.pattern.callback, "model_admin", None)
    if model_admin is not None and route.key.endswith(("_add", "_delete")):
        request = RequestFactory().get(path)
        request.user = world["users"]["staff"]
        if route.key.endswith("_add"):
            allowed = model_admin.has_add_permission(request)
        else:
            obj = model_admin.get_queryset(request).order_by("pk").first()
            allowed = model_admin.has_delete_permission(request, obj)
        return Ok(200 if allowed else 403)
    if route.key.endswith("_process_import"):
        return Ok(405)  # import_export: POST only
    return Ok(200)


ADMIN_CASES = [r for r in url_routes() if r.is_admin]


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("route", ADMIN_CASES, ids=lambda r: r.key if r.pattern.name else r.route)
def test_admin_access(route: Route, subject: str, world):
    path = _admin_path(route, world)
    response = client_for(subject, world, api=False).get(path)
    expected = _admin_expected(route, world, path, subject)
    where = f"GET {path} as {subject} -> {response.status_code}"
    if expected == "admin-login":
        assert _login_redirect(response, path, reverse("admin:login")), where
        return
    assert response.status_code == expected.status, f"{where}, expected {expected.status}"
    if expected.to:
        assert _lands_on(response, expected.to), where
    if route.pattern.name is None and "<path:object_id>" in route.route:
        assert resolve(urlparse(response["Location"]).path).view_name.endswith("_change"), where


ADMIN_UNSAFE = [r for r in ADMIN_CASES if r.key.endswith(("_add", "_change", "_delete"))]


@pytest.mark.parametrize("subject", ["anonymous", "owner"])
@pytest.mark.parametrize("route", ADMIN_UNSAFE, ids=lambda r: r.key)
def test_admin_refuses_unsafe_requests_of_non_staff(route: Route, subject: str, world):
    """A POST to an admin add/change/delete page by someone who is not staff is redirected to
    the admin log-in and changes nothing (alice, the most privileged non-staff, stands for
    every logged-in non-staff subject: the admin looks only at is_staff)."""
    path = _admin_path(route, world)
    client = client_for(subject, world, api=False)
    before = db_state(), files_state(world["media"])
    response = client.post(path, {"post": "yes", "name": "hijacked", "username": "hijacked"})
    after = db_state(), files_state(world["media"])
    assert _login_redirect(response, path, reverse("admin:login")), f"POST {path} as {subject}"
    assert after == before


def test_the_world_has_a_row_for_every_admin_model(world):
    """Change, history and delete pages are requested with a real row: none may be missing."""
    missing = [m._meta.label for m in admin.site._registry if not m._base_manager.exists()]
    assert not missing
