from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from skinplatform.memo import bump_on_changes
        from training.workers import sweep_when_a_worker_starts

        post_spawn.connect(sweep_when_a_worker_starts, dispatch_uid="training-sweep-on-spawn")
        # Analyses read the production model of their task through skinplatform.memo.
        bump_on_changes("registry", [self.get_model("ModelVersion")])
