from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Invitation, Membership, Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    "name",
    [
        "accounts:profile",
        "accounts:team-list",
        "accounts:notifications",
        "accounts:password-change",
    ],
)
def test_private_pages_redirect_anonymous_to_login(name):
    response = _client().get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_signup_logs_in_and_shows_dashboard():
    client = _client()
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "newperson",
            "email": "n@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["user"].username == "newperson"
    assert b"Hello, newperson" in response.content


def test_signup_rejects_duplicate_email(user):
    response = _client().post(
        reverse("accounts:signup"),
        {
            "username": "other",
            "email": user.email.upper(),
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_login_and_logout(user):
    client = _client()
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_failed_logins_are_throttled_per_account_with_clear_message(user):
    client = _client()
    for _ in range(5):
        client.post(
            reverse("accounts:login"),
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
        )
    # Even the right password from another address is refused while the account is locked.
    response = client.post(
        reverse("accounts:login"),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
    )
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()


def test_failed_logins_are_throttled_per_address(user, other_user):
    client = _client()
    for i in range(5):
        client.post(
            reverse("accounts:login"),
            {"username": f"ghost{i}", "password": "x"},
            REMOTE_ADDR="10.9.9.9",
        )
    response = client.post(
        reverse("accounts:login"),
        {"username": "carol", "password": PASSWORD},
        REMOTE_ADDR="10.9.9.9",
    )
    assert response.status_code == 429
    ok = _client().post(
        reverse("accounts:login"),
        {"username": "carol", "password": PASSWORD},
        REMOTE_ADDR="10.1.1.1",
    )
    assert ok.status_code == 302


def test_password_reset_sends_email_to_console_backend(user):
    response = _client().post(reverse("accounts:password-reset"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_password_change(user):
    client = _client(user)
    response = client.post(
        reverse("accounts:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-secret",
            "new_password2": "another-long-secret",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-secret")


def test_profile_saves_skin_type_and_consent(user):
    client = _client(user)
    client.post(
        reverse("accounts:profile"),
        {"display_name": "Al", "skin_type": "III", "consent_photos_for_training": "on"},
    )
    user.profile.refresh_from_db()
    assert (user.profile.skin_type, user.profile.consent_photos_for_training) == ("III", True)


def test_token_rotate_creates_token(user):
    _client(user).post(reverse("accounts:token-rotate"))
    assert user.auth_token.key


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
    client = _client(request.getfixturevalue(who))
    assert client.get(reverse("accounts:team-detail", args=[team.pk])).status_code == status


def test_team_detail_anonymous_redirects(team):
    assert _client().get(reverse("accounts:team-detail", args=[team.pk])).status_code == 302


def test_owner_invites_from_team_page(team, user, other_user):
    response = _client(user).post(
        reverse("accounts:team-detail", args=[team.pk]), {"identifier": "carol", "role": "viewer"}
    )
    assert response.status_code == 302
    assert Invitation.objects.get(team=team, user=other_user).role == "viewer"


def test_member_cannot_invite_from_team_page(team, member_user):
    response = _client(member_user).post(
        reverse("accounts:team-detail", args=[team.pk]), {"identifier": "carol", "role": "member"}
    )
    assert response.status_code == 200
    assert "Only a team owner" in response.content.decode()
    assert not Invitation.objects.exists()


def test_invitation_accept_through_page(team, user, other_user):
    _client(user).post(
        reverse("accounts:team-detail", args=[team.pk]), {"identifier": "carol", "role": "member"}
    )
    invitation = Invitation.objects.get(user=other_user)
    # Someone else cannot answer it.
    assert (
        _client(user)
        .post(reverse("accounts:invitation-answer", args=[invitation.pk]), {"answer": "accept"})
        .status_code
        == 404
    )
    _client(other_user).post(
        reverse("accounts:invitation-answer", args=[invitation.pk]), {"answer": "accept"}
    )
    assert Membership.objects.filter(team=team, user=other_user).exists()


def test_remove_member_needs_owner(team, user, member_user, viewer_user):
    url = reverse("accounts:member-remove", args=[team.pk, viewer_user.pk])
    assert _client(member_user).post(url).status_code == 403
    assert _client(user).post(url).status_code == 302
    assert not Membership.objects.filter(team=team, user=viewer_user).exists()


def test_outsider_cannot_touch_team(team, other_user, member_user):
    client = _client(other_user)
    assert (
        client.post(reverse("accounts:member-remove", args=[team.pk, member_user.pk])).status_code
        == 404
    )
    assert (
        client.post(
            reverse("accounts:member-role", args=[team.pk, member_user.pk]), {"role": "owner"}
        ).status_code
        == 404
    )


def test_leave_team(team, member_user):
    response = _client(member_user).post(
        reverse("accounts:member-remove", args=[team.pk, member_user.pk])
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(team=team, user=member_user).exists()


def test_role_change_by_owner(team, user, member_user):
    _client(user).post(
        reverse("accounts:member-role", args=[team.pk, member_user.pk]), {"role": "viewer"}
    )
    assert Membership.objects.get(team=team, user=member_user).role == Role.VIEWER


def test_home_for_anonymous_and_logged_in(user):
    assert b"Create a free account" in _client().get("/").content
    assert b"Your teams" in _client(user).get("/").content
