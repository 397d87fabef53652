from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.condition_list, name="condition-list"),
    path("<slug:task>/<str:key>/", views.condition_detail, name="condition-detail"),
]
