from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from accounts import signals  # noqa: F401
        from accounts.auth import TOKENS_MEMO
        from skinplatform.memo import bump_on_changes

        # API token authentications are memoised per process (accounts.auth.user_for_token).
        bump_on_changes(TOKENS_MEMO, [Token, get_user_model(), self.get_model("Profile")])
