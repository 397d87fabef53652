"""Print a user's API token (creating the token, and with --create the user, if needed).
For service accounts and benchmarks: `manage.py api_token bench --create`."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the API token of a user (optionally creating the user)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the user (random password) if it does not exist",
        )

    def handle(self, *args, username: str, create: bool, **options) -> None:
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"No user {username!r} (use --create).")
            user = User.objects.create_user(username=username, password=secrets.token_urlsafe(16))
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
