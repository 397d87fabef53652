"""Accounts REST API: who am I, my token, teams, invitations, notifications, worker ping."""

from __future__ import annotations

import secrets

from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import Invitation, Membership, Notification, Profile, Role, Team


def _drf_error(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Profile
        fields = ("display_name", "skin_type", "consent_photos_for_training", "consent_changed_at")
        read_only_fields = ("consent_changed_at",)


class MembershipSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(source="team.pk")
    team = serializers.CharField(source="team.name")

    class Meta:
        model = Membership
        fields = ("team_id", "team", "role")


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()
        is_staff = serializers.BooleanField()
        profile = ProfileSerializer()
        teams = MembershipSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._out(request.user))

    @extend_schema(request=ProfileSerializer, responses=OutputSerializer)
    def patch(self, request: Request) -> Response:
        serializer = ProfileSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            services.profile_update(user=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        return Response(self._out(request.user))

    def _out(self, user) -> dict:
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "is_staff": user.is_staff,
            "profile": selectors.profile_for(user),
            "teams": Membership.objects.filter(user=user).select_related("team"),
        }
        return self.OutputSerializer(data).data


LOCKOUT_MESSAGE = (
    "Too many failed log-in attempts for this account or from this address; try again later."
)


class TokenObtainApi(ObtainAuthToken):
    """POST username + password, get the API token. Failed attempts count towards the same
    per-account and per-address lockout (django-axes) as the log-in page."""

    permission_classes = ()

    def post(self, request: Request, *args, **kwargs) -> Response:
        credentials = {"username": str(request.data.get("username", ""))}
        if AxesProxyHandler.is_locked(request._request, credentials):
            return Response({"detail": LOCKOUT_MESSAGE}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        return super().post(request, *args, **kwargs)


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ("id", "name", "slug", "created_at", "role")

    def get_role(self, team: Team) -> str | None:
        return selectors.team_role(user=self.context["request"].user, team_id=team.pk)


class TeamListCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=80)

    @extend_schema(responses=TeamSerializer(many=True))
    def get(self, request: Request) -> Response:
        teams = selectors.team_list_for_user(user=request.user)
        return Response(TeamSerializer(teams, many=True, context={"request": request}).data)

    @extend_schema(request=InputSerializer, responses={201: TeamSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.team_create(owner=request.user, **serializer.validated_data)
        return Response(
            TeamSerializer(team, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class TeamDetailApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        role = serializers.CharField()
        members = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, team_id: int) -> Response:
        team = selectors.team_get_for_user(user=request.user, team_id=team_id)
        members = [
            {"user_id": m.user_id, "username": m.user.get_username(), "role": m.role}
            for m in selectors.team_members(team=team)
        ]
        role = selectors.team_role(user=request.user, team_id=team.pk)
        return Response({"id": team.pk, "name": team.name, "role": role, "members": members})


class TeamInviteApi(APIView):
    class InputSerializer(serializers.Serializer):
        identifier = serializers.CharField(max_length=254, help_text="username or e-mail")
        role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request: Request, team_id: int) -> Response:
        team = selectors.team_get_for_user(user=request.user, team_id=team_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            invitation = services.team_invite(
                team=team, invited_by=request.user, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(
            {"id": invitation.pk, "status": invitation.status}, status=status.HTTP_201_CREATED
        )


class InvitationListApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "id": i.pk,
                    "team_id": i.team_id,
                    "team": i.team.name,
                    "role": i.role,
                    "invited_by": i.invited_by.get_username() if i.invited_by else None,
                }
                for i in selectors.invitation_list_for_user(user=request.user)
            ]
        )


class InvitationAnswerApi(APIView):
    class InputSerializer(serializers.Serializer):
        accept = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request: Request, invitation_id: int) -> Response:
        invitation = get_object_or_404(Invitation, pk=invitation_id, user=request.user)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.invitation_answer(
                invitation=invitation, user=request.user, accept=serializer.validated_data["accept"]
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberApi(APIView):
    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(request=InputSerializer, responses={200: dict})
    def patch(self, request: Request, team_id: int, user_id: int) -> Response:
        team = selectors.team_get_for_user(user=request.user, team_id=team_id)
        membership = get_object_or_404(Membership, team=team, user_id=user_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.membership_set_role(
                team=team,
                by=request.user,
                user=membership.user,
                role=serializer.validated_data["role"],
            )
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response({"user_id": user_id, "role": serializer.validated_data["role"]})

    @extend_schema(responses={204: None})
    def delete(self, request: Request, team_id: int, user_id: int) -> Response:
        """Remove a member (owner), or leave the team (your own user id)."""
        team = selectors.team_get_for_user(user=request.user, team_id=team_id)
        membership = get_object_or_404(Membership, team=team, user_id=user_id)
        try:
            services.membership_remove(team=team, by=request.user, user=membership.user)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ("id", "kind", "title", "body", "url", "created_at", "read_at")


class NotificationListApi(APIView):
    @extend_schema(responses=NotificationSerializer(many=True))
    def get(self, request: Request) -> Response:
        items = selectors.notification_list_for_user(user=request.user)[:100]
        return Response(NotificationSerializer(items, many=True).data)


class NotificationReadApi(APIView):
    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(), required=False)

    @extend_schema(request=InputSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        n = services.notification_mark_read(
            user=request.user, ids=serializer.validated_data.get("ids")
        )
        return Response({"marked": n})


class WorkerPingApi(APIView):
    """Round trip through a background worker: the worker pushes `pong` with this nonce to your
    notification websocket (ws/notifications/)."""

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request) -> Response:
        nonce = secrets.token_hex(8)
        services.worker_ping(user=request.user, nonce=nonce)
        return Response({"nonce": nonce}, status=status.HTTP_202_ACCEPTED)
