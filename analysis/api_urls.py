from django.urls import path

from analysis import api

app_name = "analysis-api"

urlpatterns = [
    path("analyze", api.AnalyzeApi.as_view(), name="analyze"),
    path("analyses", api.AnalysisListApi.as_view(), name="list"),
    path("analyses/export", api.AnalysisExportApi.as_view(), name="export"),
    path("analyses/timeline", api.AnalysisTimelineApi.as_view(), name="timeline"),
    path("analyses/<int:pk>", api.AnalysisDetailApi.as_view(), name="detail"),
    path("analyses/<int:pk>/gradcam", api.AnalysisGradcamApi.as_view(), name="gradcam"),
]
