from django.contrib import admin

from accounts.models import Invitation, Membership, Notification, Profile, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_by", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    ordering = ("name",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "skin_type", "consent_photos_for_training")
    list_filter = ("skin_type", "consent_photos_for_training")
    search_fields = ("user__username", "user__email", "display_name")
    ordering = ("user__username",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("team", "user", "email", "role", "status", "created_at")
    list_filter = ("status", "role")
    search_fields = ("team__name", "user__username", "email")
    ordering = ("-created_at",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "title", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "title")
    ordering = ("-created_at",)
