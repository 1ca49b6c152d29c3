from django.urls import path

from gridgov.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("read-all/", views.notification_read_all, name="notification_read_all"),
    path("<int:pk>/read/", views.notification_read, name="notification_read"),
    path("settings/", views.notification_settings, name="settings"),
    path("settings/test/<slug:channel>/", views.notification_test, name="settings_test"),
]
