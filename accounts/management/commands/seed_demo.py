"""Create the demo admin, two demo users and a demo team, once. Passwords are printed only when
the accounts are created (they are random and stored hashed)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Membership, Role, Team

DEMO_USERS = [
    ("admin", "admin@example.com", True),
    ("alice", "alice@example.com", False),
    ("bob", "bob@example.com", False),
]
DEMO_TEAM = "Demo team"


class Command(BaseCommand):
    help = "Create demo accounts and a demo team if they do not exist (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", help="use this password instead of random ones")

    @transaction.atomic
    def handle(self, *args, password: str | None = None, **options) -> None:
        User = get_user_model()
        created = []
        for username, email, staff in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            pw = password or secrets.token_urlsafe(9)
            if staff:
                User.objects.create_superuser(username=username, email=email, password=pw)
            else:
                services.user_signup(username=username, email=email, password=pw)
            created.append((username, pw))
        alice = User.objects.get(username="alice")
        bob = User.objects.get(username="bob")
        team = Team.objects.filter(name=DEMO_TEAM).first()
        if team is None:
            team = services.team_create(owner=alice, name=DEMO_TEAM)
            Membership.objects.get_or_create(team=team, user=bob, defaults={"role": Role.MEMBER})
            self.stdout.write(f"Demo team {team.name!r}: alice (owner), bob (member).")
        if created:
            self.stdout.write(self.style.SUCCESS("Demo accounts (shown once, write them down):"))
            for username, pw in created:
                self.stdout.write(f"  DEMO-ACCOUNT {username} {pw}")
        else:
            self.stdout.write("Demo accounts already exist (passwords were shown on first run).")
