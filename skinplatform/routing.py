"""Every websocket route of the platform, gathered from the apps' routing modules."""

from accounts.routing import websocket_urlpatterns as accounts_ws
from training.routing import websocket_urlpatterns as training_ws

websocket_urlpatterns = [*accounts_ws, *training_ws]
