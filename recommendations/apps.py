from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recommendations"

    def ready(self) -> None:
        from skinplatform.memo import bump_on_changes

        # Every analysis reads the advice catalogue through skinplatform.memo: any change to
        # it (admin, import, API) invalidates it in every process.
        bump_on_changes("advice", list(self.get_models()))
