"""Accounts services: the only code that creates or changes users' profiles, teams, memberships,
invitations and notifications. Called by views, API views, admin and other apps' services."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from accounts import notifications, selectors
from accounts.models import Invitation, Membership, Notification, Profile, Role, Team

User = get_user_model()


# ---------------------------------------------------------------- people
@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> AbstractBaseUser:
    user = User.objects.create_user(username=username, email=email, password=password)
    Profile.objects.get_or_create(user=user)
    if email:
        # Invitations sent to this address before the account existed now point at it.
        Invitation.objects.filter(
            email__iexact=email, user__isnull=True, status=Invitation.Status.PENDING
        ).update(user=user)
    return user


def profile_update(
    *,
    user: AbstractBaseUser,
    display_name: str | None = None,
    skin_type: str | None = None,
    consent_photos_for_training: bool | None = None,
) -> Profile:
    profile = selectors.profile_for(user)
    if display_name is not None:
        profile.display_name = display_name.strip()
    if skin_type is not None:
        if skin_type and skin_type not in Profile.SkinType.values:
            raise ValidationError({"skin_type": f"Unknown skin type {skin_type!r}."})
        profile.skin_type = skin_type
    if (
        consent_photos_for_training is not None
        and consent_photos_for_training != profile.consent_photos_for_training
    ):
        profile.consent_photos_for_training = consent_photos_for_training
        profile.consent_changed_at = timezone.now()
    profile.full_clean()
    profile.save()
    return profile


def api_token_rotate(*, user: AbstractBaseUser) -> Token:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


# ---------------------------------------------------------------- teams
def _unique_slug(name: str) -> str:
    base = slugify(name)[:80] or "team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def team_create(*, owner: AbstractBaseUser, name: str) -> Team:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    team = Team.objects.create(name=name, slug=_unique_slug(name), created_by=owner)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def _require_owner(*, team: Team, user: AbstractBaseUser) -> None:
    if selectors.team_role(user=user, team_id=team.pk) != Role.OWNER:
        raise PermissionDenied("Only a team owner can do this.")


@transaction.atomic
def team_invite(
    *, team: Team, invited_by: AbstractBaseUser, identifier: str, role: str = Role.MEMBER
) -> Invitation:
    """Invite by username or e-mail. An unknown e-mail gets a sign-up link; the invitation
    attaches to the account created with that address."""
    _require_owner(team=team, user=invited_by)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    identifier = identifier.strip()
    user = selectors.user_find(identifier=identifier)
    if user is None and "@" not in identifier:
        raise ValidationError({"identifier": f"No user called {identifier!r}."})
    if user is not None and Membership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"identifier": f"{user.get_username()} is already in {team}."})
    email = identifier if user is None else (user.email or "")
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                team=team, invited_by=invited_by, user=user, email=email, role=role
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"identifier": "That person already has a pending invitation."}
        ) from exc
    if user is not None:
        notification_create(
            user=user,
            kind="invitation",
            title=f"You are invited to join {team.name}",
            body=f"{invited_by.get_username()} invited you as {invitation.get_role_display()}.",
            url="/accounts/teams/",
        )
    elif email:
        transaction.on_commit(lambda: _send_invitation_email(invitation))
    return invitation


def _send_invitation_email(invitation: Invitation) -> None:
    send_mail(
        subject=f"You are invited to join {invitation.team.name} on {settings.SITE_NAME}",
        message=(
            f"{invitation.invited_by} invited you to the team {invitation.team.name}.\n"
            f"Sign up with this e-mail address ({invitation.email}) and the invitation will be "
            "waiting on your dashboard."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_answer(*, invitation: Invitation, user: AbstractBaseUser, accept: bool) -> None:
    if invitation.user_id != user.pk or invitation.status != Invitation.Status.PENDING:
        raise PermissionDenied("This invitation is not yours to answer.")
    invitation.status = Invitation.Status.ACCEPTED if accept else Invitation.Status.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    if accept:
        Membership.objects.get_or_create(
            team=invitation.team, user=user, defaults={"role": invitation.role}
        )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: AbstractBaseUser) -> None:
    _require_owner(team=invitation.team, user=by)
    invitation.status = Invitation.Status.REVOKED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])


@transaction.atomic
def membership_remove(*, team: Team, by: AbstractBaseUser, user: AbstractBaseUser) -> None:
    """An owner removes someone, or a person leaves (by == user). A team always keeps an owner."""
    if by.pk != user.pk:
        _require_owner(team=team, user=by)
    membership = Membership.objects.select_for_update().filter(team=team, user=user).first()
    if membership is None:
        raise ValidationError("Not a member of this team.")
    if membership.role == Role.OWNER and selectors.team_owner_count(team=team) == 1:
        raise ValidationError(
            "A team needs an owner: make someone else owner before the last owner leaves."
        )
    membership.delete()


@transaction.atomic
def membership_set_role(
    *, team: Team, by: AbstractBaseUser, user: AbstractBaseUser, role: str
) -> Membership:
    _require_owner(team=team, user=by)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership = Membership.objects.select_for_update().get(team=team, user=user)
    if (
        membership.role == Role.OWNER
        and role != Role.OWNER
        and selectors.team_owner_count(team=team) == 1
    ):
        raise ValidationError("A team needs an owner: promote someone else first.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


# ---------------------------------------------------------------- notifications
def notification_create(
    *,
    user: AbstractBaseUser,
    title: str,
    body: str = "",
    url: str = "",
    kind: str = "info",
    email: bool = False,
) -> Notification:
    """Record an in-app notification, push it to the user's open pages, optionally e-mail it."""
    notification = Notification.objects.create(
        user=user, kind=kind, title=title[:200], body=body, url=url
    )
    payload = {
        "type": "event",
        "event": "notification",
        "id": notification.pk,
        "kind": kind,
        "title": notification.title,
        "body": body,
        "url": url,
    }
    transaction.on_commit(lambda: notifications.publish(user.pk, payload))
    if email and user.email:
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[{settings.SITE_NAME}] {notification.title}",
                message=f"{body}\n\n{url}".strip(),
                from_email=None,
                recipient_list=[user.email],
                fail_silently=True,
            )
        )
    return notification


def notification_mark_read(*, user: AbstractBaseUser, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def worker_ping(*, user: AbstractBaseUser, nonce: str) -> None:
    """Ask a background worker to push `pong` to the user's pages: proves the whole
    web -> broker -> worker -> channel layer -> browser path works."""
    from django_q.tasks import async_task

    async_task(
        "accounts.tasks.run_ping", user.pk, nonce, task_name=f"ping-{user.pk}-{nonce}", group="ping"
    )
