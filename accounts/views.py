"""Accounts pages: sign-up, profile, API token, teams, invitations, notifications."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from accounts import selectors, services
from accounts.forms import InviteForm, ProfileForm, RoleForm, SignupForm, TeamCreateForm
from accounts.models import Invitation, Membership


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your account is ready.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    instance = selectors.profile_for(request.user)
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/profile.html", {"form": form, "token": token})


@login_required
@require_POST
def token_rotate(request: HttpRequest) -> HttpResponse:
    services.api_token_rotate(user=request.user)
    messages.success(request, "A new API token was created; the old one no longer works.")
    return redirect("accounts:profile")


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(owner=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Team {team.name} created. Invite people from its page.")
        return redirect("accounts:team-detail", team_id=team.pk)
    context = {
        "form": form,
        "memberships": Membership.objects.filter(user=request.user).select_related("team"),
        "invitations": selectors.invitation_list_for_user(user=request.user),
    }
    return render(request, "accounts/team_list.html", context)


@login_required
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    team = selectors.team_get_for_user(user=request.user, team_id=team_id)
    role = selectors.team_role(user=request.user, team_id=team.pk)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.team_invite(team=team, invited_by=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['identifier']}.")
            return redirect("accounts:team-detail", team_id=team.pk)
    context = {
        "team": team,
        "role": role,
        "is_owner": role == "owner",
        "form": form,
        "members": selectors.team_members(team=team),
        "invitations": selectors.invitation_list_for_team(team=team),
        "role_form": RoleForm(),
    }
    return render(request, "accounts/team_detail.html", context)


@login_required
@require_POST
def invitation_answer(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, user=request.user)
    accept = request.POST.get("answer") == "accept"
    services.invitation_answer(invitation=invitation, user=request.user, accept=accept)
    messages.success(
        request, f"You joined {invitation.team}." if accept else "Invitation declined."
    )
    return redirect("accounts:team-list")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    selectors.team_get_for_user(user=request.user, team_id=invitation.team_id)
    services.invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, "Invitation revoked.")
    return redirect("accounts:team-detail", team_id=invitation.team_id)


@login_required
@require_POST
def member_remove(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    team = selectors.team_get_for_user(user=request.user, team_id=team_id)
    membership = get_object_or_404(Membership, team=team, user_id=user_id)
    try:
        services.membership_remove(team=team, by=request.user, user=membership.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("accounts:team-detail", team_id=team.pk)
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {team}.")
        return redirect("accounts:team-list")
    messages.success(request, f"{membership.user} was removed from {team}.")
    return redirect("accounts:team-detail", team_id=team.pk)


@login_required
@require_POST
def member_role(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    team = selectors.team_get_for_user(user=request.user, team_id=team_id)
    membership = get_object_or_404(Membership, team=team, user_id=user_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set_role(
                team=team, by=request.user, user=membership.user, role=form.cleaned_data["role"]
            )
            messages.success(request, f"{membership.user} is now {form.cleaned_data['role']}.")
        except ValidationError as exc:
            messages.error(request, _errors(exc))
    return redirect("accounts:team-detail", team_id=team.pk)


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.notification_mark_read(user=request.user)
        return redirect("accounts:notifications")
    items = selectors.notification_list_for_user(user=request.user)[:100]
    return render(request, "accounts/notifications.html", {"notifications": items})
