from django.urls import path

from gridgov.areas import views

app_name = "areas"

urlpatterns = [
    path("areas/<int:pk>/", views.area_detail, name="area_detail"),
    path("areas/<int:pk>/mode/", views.area_set_mode, name="area_set_mode"),
    path("areas/switch/", views.switch_area, name="switch"),
    path("units/", views.unit_list, name="unit_list"),
    path("party-branches/", views.party_branch_list, name="party_branch_list"),
]
