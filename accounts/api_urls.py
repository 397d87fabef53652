from django.urls import path

from accounts import api

app_name = "accounts-api"

urlpatterns = [
    path("me", api.MeApi.as_view(), name="me"),
    path("auth/token", api.TokenObtainApi.as_view(), name="token"),
    path("teams", api.TeamListCreateApi.as_view(), name="team-list"),
    path("teams/<int:team_id>", api.TeamDetailApi.as_view(), name="team-detail"),
    path("teams/<int:team_id>/invitations", api.TeamInviteApi.as_view(), name="team-invite"),
    path(
        "teams/<int:team_id>/members/<int:user_id>", api.TeamMemberApi.as_view(), name="team-member"
    ),
    path("invitations", api.InvitationListApi.as_view(), name="invitation-list"),
    path(
        "invitations/<int:invitation_id>/answer",
        api.InvitationAnswerApi.as_view(),
        name="invitation-answer",
    ),
    path("notifications", api.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read", api.NotificationReadApi.as_view(), name="notification-read"),
    path("ping", api.WorkerPingApi.as_view(), name="ping"),
]
