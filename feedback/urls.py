from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("", views.my_responses, name="my-responses"),
    path("analysis/<int:analysis_id>/", views.analysis_response, name="analysis-response"),
    path("training/<int:session_id>/", views.session_response, name="session-response"),
    path("dataset/", views.dataset, name="dataset"),
    path("dataset/import/", views.dataset_import, name="dataset-import"),
    path("dataset/<slug:task>/export.zip", views.dataset_export, name="dataset-export"),
]
