from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset-list"),
    path(
        "datasets/register-folder/",
        views.dataset_register_folder,
        name="dataset-register-folder",
    ),
    path("datasets/<int:dataset_id>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:dataset_id>/delete/", views.dataset_delete, name="dataset-delete"),
    path(
        "datasets/versions/<int:version_id>/",
        views.dataset_version_detail,
        name="dataset-version-detail",
    ),
    path(
        "datasets/versions/<int:version_id>/thumb/<path:path>",
        views.dataset_version_thumb,
        name="dataset-version-thumb",
    ),
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/new/", views.session_new, name="session-new"),
    path("sessions/compare/", views.session_compare, name="session-compare"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-detail"),
    path("sessions/<int:session_id>/cancel/", views.session_cancel, name="session-cancel"),
    path("sessions/<int:session_id>/resume/", views.session_resume, name="session-resume"),
    path("sessions/<int:session_id>/clone/", views.session_clone, name="session-clone"),
    path("sessions/<int:session_id>/promote/", views.session_promote, name="session-promote"),
    path("models/", views.model_list, name="model-list"),
    path("models/<int:model_version_id>/", views.model_detail, name="model-detail"),
    path(
        "models/<int:model_version_id>/production/",
        views.model_set_production,
        name="model-set-production",
    ),
]
