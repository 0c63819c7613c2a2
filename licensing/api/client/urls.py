from django.urls import path, re_path

from . import views

app_name = "client-api"

urlpatterns = [
    path("activate_license", views.ActivateLicense.as_view(), name="activate-license"),
    path("check_license", views.CheckLicense.as_view(), name="check-license"),
    path("deactivate_license", views.DeactivateLicense.as_view(), name="deactivate-license"),
    path("check_license_feature", views.CheckLicenseFeature.as_view(), name="check-license-feature"),
    path("add_consumption", views.AddConsumption.as_view(), name="add-consumption"),
    path("add_feature_consumption", views.AddFeatureConsumption.as_view(), name="add-feature-consumption"),
    path("trial_key", views.TrialKey.as_view(), name="trial-key"),
    path("floating/release", views.FloatingRelease.as_view(), name="floating-release"),
    path("floating/borrow", views.FloatingBorrow.as_view(), name="floating-borrow"),
    path("activate_offline", views.ActivateOffline.as_view(), name="activate-offline"),
    path("deactivate_offline", views.DeactivateOffline.as_view(), name="deactivate-offline"),
    path("public_key", views.PublicKey.as_view(), name="public-key"),
    re_path(r"^.*$", views.NotFound.as_view(), name="not-found"),
]
