from __future__ import annotations

import pytest

from accounts.models import Invitation, Membership
from tests.conftest import api_client_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_me_requires_authentication(api_client):
    assert api_client.get("/api/me").status_code in (401, 403)


def test_token_then_me(api_client, user, team):
    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/me").json()
    assert me["username"] == "alice"
    assert me["teams"] == [{"team_id": team.pk, "team": team.name, "role": "owner"}]
    assert me["profile"]["consent_photos_for_training"] is False


def test_token_endpoint_is_throttled_by_axes(api_client, user):
    for _ in range(5):
        api_client.post("/api/auth/token", {"username": "alice", "password": "nope"})
    response = api_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.json()["detail"]


def test_me_patch_updates_profile(auth_client):
    response = auth_client.patch("/api/me", {"skin_type": "II", "display_name": "A"}, format="json")
    assert response.status_code == 200
    assert response.json()["profile"]["skin_type"] == "II"
    assert auth_client.patch("/api/me", {"skin_type": "IX"}, format="json").status_code == 400


def test_team_list_shows_only_my_teams(team, other_user, user):
    assert [t["id"] for t in api_client_for(user).get("/api/teams").json()] == [team.pk]
    assert api_client_for(other_user).get("/api/teams").json() == []


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("user", 200),
        ("member_user", 200),
        ("viewer_user", 200),
        ("other_user", 404),
    ],
)
def test_team_detail_access(request, team, who, status):
    response = api_client_for(request.getfixturevalue(who)).get(f"/api/teams/{team.pk}")
    assert response.status_code == status


def test_team_create_and_invite_flow(user, other_user):
    client = api_client_for(user)
    team_id = client.post("/api/teams", {"name": "Lab"}, format="json").json()["id"]
    response = client.post(
        f"/api/teams/{team_id}/invitations", {"identifier": "carol"}, format="json"
    )
    assert response.status_code == 201
    carol = api_client_for(other_user)
    [invitation] = carol.get("/api/invitations").json()
    assert (
        carol.post(
            f"/api/invitations/{invitation['id']}/answer", {"accept": True}, format="json"
        ).status_code
        == 204
    )
    assert Membership.objects.filter(team_id=team_id, user=other_user, role="member").exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("member_user", 403),
        ("viewer_user", 403),
        ("other_user", 404),
    ],
)
def test_invite_refused_for_non_owners(request, team, who, status):
    client = api_client_for(request.getfixturevalue(who))
    response = client.post(
        f"/api/teams/{team.pk}/invitations", {"identifier": "staff"}, format="json"
    )
    assert response.status_code == status
    assert not Invitation.objects.exists()


def test_member_delete_and_role_matrix(team, user, member_user, viewer_user, other_user):
    url = f"/api/teams/{team.pk}/members/{viewer_user.pk}"
    assert api_client_for(other_user).delete(url).status_code == 404
    assert api_client_for(member_user).delete(url).status_code == 403
    assert (
        api_client_for(member_user).patch(url, {"role": "owner"}, format="json").status_code == 403
    )
    assert api_client_for(user).patch(url, {"role": "member"}, format="json").status_code == 200
    assert api_client_for(user).delete(url).status_code == 204
    # leaving: your own id
    assert (
        api_client_for(member_user)
        .delete(f"/api/teams/{team.pk}/members/{member_user.pk}")
        .status_code
        == 204
    )
    assert api_client_for(user).delete(f"/api/teams/{team.pk}/members/{user.pk}").status_code == 400


def test_notifications_are_private(user, other_user):
    from accounts.services import notification_create

    notification_create(user=user, title="for alice")
    assert [n["title"] for n in api_client_for(user).get("/api/notifications").json()] == [
        "for alice"
    ]
    assert api_client_for(other_user).get("/api/notifications").json() == []
    assert api_client_for(other_user).post("/api/notifications/read", {}, format="json").json() == {
        "marked": 0
    }
    assert api_client_for(user).post("/api/notifications/read", {}, format="json").json() == {
        "marked": 1
    }


def test_openapi_schema_lists_account_endpoints(auth_client):
    response = auth_client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = (
        response.json()["paths"] if response["content-type"].startswith("application/json") else {}
    )
    if not paths:
        import yaml

        paths = yaml.safe_load(response.content)["paths"]
    assert "/api/me" in paths
    assert "/api/teams/{team_id}/invitations" in paths


def test_token_authentication_reads_the_profile_with_the_user(user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.exceptions import AuthenticationFailed

    from accounts.auth import TokenAuthentication
    from accounts.models import Profile
    from accounts.selectors import profile_for

    Profile.objects.update_or_create(user=user, defaults={"skin_type": "III"})
    key = Token.objects.create(user=user).key
    with CaptureQueriesContext(connection) as queries:
        found, _ = TokenAuthentication().authenticate_credentials(key)
        assert profile_for(found).skin_type == "III"
    assert len(queries) == 1
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials("not-a-token")
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials(key)


def test_profile_for_creates_a_missing_profile(user):
    from accounts.models import Profile
    from accounts.selectors import profile_for

    Profile.objects.filter(user=user).delete()
    user.refresh_from_db()
    assert profile_for(user).pk == Profile.objects.get(user=user).pk
