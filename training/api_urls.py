from django.urls import path

from training import api

app_name = "training-api"

urlpatterns = [
    path("datasets", api.DatasetListUploadApi.as_view(), name="dataset-list"),
    path(
        "datasets/register-folder",
        api.DatasetRegisterFolderApi.as_view(),
        name="dataset-register-folder",
    ),
    path("datasets/<int:dataset_id>", api.DatasetDetailApi.as_view(), name="dataset-detail"),
    path(
        "datasets/<int:dataset_id>/versions",
        api.DatasetVersionUploadApi.as_view(),
        name="dataset-version-upload",
    ),
    path(
        "datasets/versions/<int:version_id>",
        api.DatasetVersionDetailApi.as_view(),
        name="dataset-version-detail",
    ),
    path(
        "datasets/versions/<int:version_id>/suggest",
        api.DatasetVersionSuggestApi.as_view(),
        name="dataset-version-suggest",
    ),
    path("sessions", api.TrainingSessionListStartApi.as_view(), name="session-list"),
    path("sessions/compare", api.TrainingSessionCompareApi.as_view(), name="session-compare"),
    path(
        "sessions/<int:session_id>", api.TrainingSessionDetailApi.as_view(), name="session-detail"
    ),
    path(
        "sessions/<int:session_id>/cancel",
        api.TrainingSessionCancelApi.as_view(),
        name="session-cancel",
    ),
    path(
        "sessions/<int:session_id>/resume",
        api.TrainingSessionResumeApi.as_view(),
        name="session-resume",
    ),
    path(
        "sessions/<int:session_id>/clone",
        api.TrainingSessionCloneApi.as_view(),
        name="session-clone",
    ),
    path(
        "sessions/<int:session_id>/promote",
        api.TrainingSessionPromoteApi.as_view(),
        name="session-promote",
    ),
    path("models", api.ModelVersionListApi.as_view(), name="model-list"),
    path("models/<int:model_version_id>", api.ModelVersionDetailApi.as_view(), name="model-detail"),
    path(
        "models/<int:model_version_id>/production",
        api.ModelVersionSetProductionApi.as_view(),
        name="model-set-production",
    ),
]
