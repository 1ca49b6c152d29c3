from django.urls import path

from gridgov.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("otp/", views.otp_view, name="otp"),
    path("logout/", views.logout_view, name="logout"),
    path("security/", views.security_policy, name="security_policy"),
    path("password/", views.password_change, name="password_change"),
]
