from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("history/", views.history, name="history"),
    path("history/compare/", views.compare, name="compare"),
    path("history/delete-all/", views.delete_all, name="delete-all"),
    path("history/export.zip", views.export, name="export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/photo/<str:kind>/", views.photo, name="photo"),
    path("<int:pk>/gradcam/", views.gradcam, name="gradcam"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/delete/", views.delete, name="delete"),
]
