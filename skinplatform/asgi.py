"""ASGI entry point: Django views over HTTP, Channels consumers over websockets.

HTTP goes to Django's *WSGI* handler, run by a2wsgi in a fixed pool of threads (WEB_THREADS per
process). Django's ASGI handler runs every sync view in a new thread, so each request opened and
closed its own database connection (and cache client); pool threads keep theirs across requests
(CONN_MAX_AGE), which took about a fifth off an API analysis over HTTP (README,
Performance). Every view here is sync, so nothing is lost."""

import os
from wsgiref.util import FileWrapper

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skinplatform.settings")
# Initialise Django (apps, settings) before importing consumers, which import models.
django_wsgi_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.auth import TokenAuthMiddleware  # noqa: E402
from skinplatform.routing import websocket_urlpatterns  # noqa: E402

FILE_BLOCK = 256 * 1024


def with_file_wrapper(app):
    """Offer `wsgi.file_wrapper` (a2wsgi has none): Django then streams a FileResponse (photos,
    exports) in 256 KiB blocks instead of its 4 KiB ones, each a hop to the event loop."""

    def wrapped(environ, start_response):
        environ.setdefault(
            "wsgi.file_wrapper", lambda f, size=FILE_BLOCK: FileWrapper(f, max(size, FILE_BLOCK))
        )
        return app(environ, start_response)

    return wrapped


application = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(with_file_wrapper(django_wsgi_app), workers=settings.WEB_THREADS),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
