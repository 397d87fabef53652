"""Top-level URLconf: HTML pages under /<app>/, the REST API under /api/, admin, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from skinplatform import views

api_patterns = [
    path("", include("accounts.api_urls")),
    path("", include("analysis.api_urls")),
    path("training/", include("training.api_urls")),
    path("recommendations/", include("recommendations.api_urls")),
    path("feedback/", include("feedback.api_urls")),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("analysis/", include("analysis.urls")),
    path("training/", include("training.urls")),
    path("conditions/", include("recommendations.urls")),
    path("feedback/", include("feedback.urls")),
    path("api/", include(api_patterns)),
]
