from django.urls import include, path

from gridgov.registry import views

app_name = "registry"

urlpatterns = [
    path("residents/", views.resident_list, name="resident_list"),
    path("residents/new/", views.resident_create, name="resident_create"),
    path("residents/<int:pk>/", views.resident_detail, name="resident_detail"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/reveal/", views.resident_reveal, name="resident_reveal"),
    path("households/", views.household_list, name="household_list"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("buildings/", views.building_list, name="building_list"),
    path("buildings/<int:pk>/", views.building_detail, name="building_detail"),
    path("shops/", views.shop_list, name="shop_list"),
    path("shops/<int:pk>/", views.shop_detail, name="shop_detail"),
    path("shops/<int:pk>/reveal/", views.shop_reveal, name="shop_reveal"),
    path("places/", views.place_list, name="place_list"),
    path("places/<int:pk>/", views.place_detail, name="place_detail"),
    path("map/", views.registry_map, name="map"),
    # Excel in and out: import_start, import pages and export (owned by the import module).
    path("", include("gridgov.registry.import_urls")),
]
