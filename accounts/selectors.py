"""Accounts selectors: every read with an access rule in it (teams, roles, invitations).

Other apps ask here which teams a user belongs to and with which role; never the reverse.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Invitation, Membership, Notification, Profile, Role, Team

User = get_user_model()


def profile_for(user: AbstractBaseUser) -> Profile:
    """The user's profile (created when missing); no query when it was read with the user
    (select_related, as the API's token authentication does)."""
    related = Profile.user.field.remote_field  # the reverse side, user.profile
    if related.is_cached(user) and related.get_cached_value(user) is not None:
        return related.get_cached_value(user)
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def team_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).distinct()


def team_ids_for_user(*, user: AbstractBaseUser | AnonymousUser) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))


def membership_get(*, user: AbstractBaseUser | AnonymousUser, team_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("team").filter(user=user, team_id=team_id).first()


def team_get_for_user(*, user: AbstractBaseUser | AnonymousUser, team_id: int) -> Team:
    """The team, if the user belongs to it; 404 otherwise (outsiders learn nothing)."""
    membership = membership_get(user=user, team_id=team_id)
    if membership is None:
        raise Http404("No such team.")
    return membership.team


def team_role(*, user: AbstractBaseUser | AnonymousUser, team_id: int) -> str | None:
    membership = membership_get(user=user, team_id=team_id)
    return membership.role if membership else None


def team_members(*, team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user", "user__profile").order_by(
        "role", "user__username"
    )


def team_owner_count(*, team: Team) -> int:
    return team.memberships.filter(role=Role.OWNER).count()


def invitation_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Invitation]:
    return Invitation.objects.filter(user=user, status=Invitation.Status.PENDING).select_related(
        "team", "invited_by"
    )


def invitation_list_for_team(*, team: Team) -> QuerySet[Invitation]:
    return team.invitations.filter(status=Invitation.Status.PENDING).select_related("user")


def notification_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def notification_unread_count(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def user_find(*, identifier: str) -> AbstractBaseUser | None:
    """A user by username or e-mail address (case-insensitive)."""
    identifier = identifier.strip()
    if not identifier:
        return None
    user = User.objects.filter(username__iexact=identifier).first()
    if user is None and "@" in identifier:
        user = User.objects.filter(email__iexact=identifier).order_by("pk").first()
    return user
