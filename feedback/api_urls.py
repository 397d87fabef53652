from django.urls import path

from feedback import api

app_name = "feedback-api"

urlpatterns = [
    path(
        "analyses/<int:analysis_id>/questionnaire",
        api.AnalysisQuestionnaireApi.as_view(),
        name="analysis-questionnaire",
    ),
    path(
        "analyses/<int:analysis_id>/response",
        api.AnalysisResponseApi.as_view(),
        name="analysis-response",
    ),
    path(
        "training-sessions/<int:session_id>/questionnaire",
        api.SessionQuestionnaireApi.as_view(),
        name="session-questionnaire",
    ),
    path(
        "training-sessions/<int:session_id>/response",
        api.SessionResponseApi.as_view(),
        name="session-response",
    ),
    path("responses", api.MyResponseListApi.as_view(), name="my-responses"),
    path("aggregates", api.FeedbackAggregatesApi.as_view(), name="aggregates"),
    path("models", api.ModelAccuracyApi.as_view(), name="model-accuracy"),
    path("dataset", api.FeedbackDatasetApi.as_view(), name="dataset"),
    path(
        "dataset/<slug:task>/export",
        api.FeedbackDatasetExportApi.as_view(),
        name="dataset-export",
    ),
    path(
        "dataset/<slug:task>/import",
        api.FeedbackDatasetImportApi.as_view(),
        name="dataset-import",
    ),
]
