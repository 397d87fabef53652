from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import Invitation, Membership, Notification, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_user_signup_creates_profile_with_consent_off():
    user = services.user_signup(username="dana", email="dana@example.com", password="x" * 12)
    assert user.profile.consent_photos_for_training is False
    assert user.check_password("x" * 12)


def test_user_signup_attaches_invitations_sent_to_the_email(team, user):
    services.team_invite(team=team, invited_by=user, identifier="newbie@example.com")
    newbie = services.user_signup(username="newbie", email="NewBie@example.com", password="x" * 12)
    invitation = Invitation.objects.get(email="newbie@example.com")
    assert invitation.user == newbie
    services.invitation_answer(invitation=invitation, user=newbie, accept=True)
    assert Membership.objects.get(team=team, user=newbie).role == Role.MEMBER


def test_profile_update_records_when_consent_changes(user):
    profile = services.profile_update(user=user, consent_photos_for_training=True)
    assert profile.consent_photos_for_training is True
    first = profile.consent_changed_at
    assert first is not None
    profile = services.profile_update(user=user, display_name="Alice")
    assert profile.consent_changed_at == first


def test_profile_update_rejects_unknown_skin_type(user):
    with pytest.raises(ValidationError):
        services.profile_update(user=user, skin_type="VII")


def test_team_create_makes_creator_owner(user):
    team = services.team_create(owner=user, name="Derm lab")
    assert team.slug == "derm-lab"
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    assert services.team_create(owner=user, name="Derm lab").slug == "derm-lab-2"


def test_team_invite_by_username_notifies_and_accept_adds_member(team, user, other_user):
    invitation = services.team_invite(
        team=team, invited_by=user, identifier="carol", role=Role.VIEWER
    )
    assert Notification.objects.filter(user=other_user, kind="invitation").exists()
    services.invitation_answer(invitation=invitation, user=other_user, accept=True)
    assert Membership.objects.get(team=team, user=other_user).role == Role.VIEWER


def test_team_invite_unknown_email_sends_signup_email(
    team, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.team_invite(team=team, invited_by=user, identifier="someone@example.org")
    assert len(mail.outbox) == 1
    assert "someone@example.org" in mail.outbox[0].to


def test_team_invite_refused_for_non_owner(team, member_user, other_user):
    with pytest.raises(PermissionDenied):
        services.team_invite(team=team, invited_by=member_user, identifier="carol")


def test_team_invite_rejects_unknown_username_and_existing_member(team, user):
    with pytest.raises(ValidationError, match="No user"):
        services.team_invite(team=team, invited_by=user, identifier="nobody")
    with pytest.raises(ValidationError, match="already"):
        services.team_invite(team=team, invited_by=user, identifier="bob")


def test_team_invite_twice_is_refused(team, user, other_user):
    services.team_invite(team=team, invited_by=user, identifier="carol")
    with pytest.raises(ValidationError, match="pending"):
        services.team_invite(team=team, invited_by=user, identifier="carol@example.com")


def test_invitation_cannot_be_answered_by_someone_else(team, user, other_user, member_user):
    invitation = services.team_invite(team=team, invited_by=user, identifier="carol")
    with pytest.raises(PermissionDenied):
        services.invitation_answer(invitation=invitation, user=member_user, accept=True)
    assert not Membership.objects.filter(team=team, user=other_user).exists()


def test_member_can_leave_but_last_owner_cannot(team, user, member_user):
    services.membership_remove(team=team, by=member_user, user=member_user)
    assert not Membership.objects.filter(team=team, user=member_user).exists()
    with pytest.raises(ValidationError, match="owner"):
        services.membership_remove(team=team, by=user, user=user)


def test_only_owner_removes_others(team, user, member_user, viewer_user):
    with pytest.raises(PermissionDenied):
        services.membership_remove(team=team, by=member_user, user=viewer_user)
    services.membership_remove(team=team, by=user, user=viewer_user)
    assert not Membership.objects.filter(team=team, user=viewer_user).exists()


def test_set_role_keeps_an_owner(team, user, member_user):
    with pytest.raises(ValidationError):
        services.membership_set_role(team=team, by=user, user=user, role=Role.MEMBER)
    services.membership_set_role(team=team, by=user, user=member_user, role=Role.OWNER)
    services.membership_set_role(team=team, by=user, user=user, role=Role.VIEWER)
    assert Membership.objects.get(team=team, user=user).role == Role.VIEWER


def test_notification_create_emails_when_asked(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notification_create(user=user, title="Run finished", body="ok", email=True)
    assert mail.outbox[0].subject.endswith("Run finished")
    assert services.notification_mark_read(user=user) == 1
    assert services.notification_mark_read(user=user) == 0


def test_api_token_rotate_replaces_token(user):
    first = services.api_token_rotate(user=user)
    second = services.api_token_rotate(user=user)
    assert first.key != second.key
    assert user.auth_token.key == second.key


def test_user_factory_password_works():
    u = UserFactory(username="zed")
    assert u.check_password("correct horse battery staple")
