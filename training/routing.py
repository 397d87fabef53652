from django.urls import path

from training.consumers import TrainingSessionConsumer

websocket_urlpatterns = [
    path(
        "ws/training/<int:session_id>/",
        TrainingSessionConsumer.as_asgi(),
        name="ws-training-session",
    ),
]
