from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("entitlements/<uuid:pk>/", views.entitlement_detail, name="entitlement-detail"),
    path("licenses/<uuid:pk>/deactivate/", views.license_deactivate, name="license-deactivate"),
    path("licenses/<uuid:pk>/release-floating/", views.license_release_floating, name="license-release-floating"),
    path("offline/", views.offline_activation, name="offline"),
    path("account/", views.account, name="account"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("password-reset/", views.password_reset, name="password-reset"),
    path("password-reset/<str:uidb64>/<str:token>/", views.password_set, name="password-set"),
]
