from django.urls import path

from recommendations import api

app_name = "recommendations-api"

urlpatterns = [
    path("conditions/", api.ConditionListApi.as_view(), name="condition-list"),
    path("conditions/<int:pk>/", api.ConditionDetailApi.as_view(), name="condition-detail"),
    path("products/", api.ProductListApi.as_view(), name="product-list"),
    path("products/<int:pk>/", api.ProductDetailApi.as_view(), name="product-detail"),
    path("categories/", api.ProductCategoryListApi.as_view(), name="category-list"),
]
