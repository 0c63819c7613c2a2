from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .security import allowing_inline_styles

admin.site.site_header = "Licensing server"
admin.site.site_title = "Licensing server"
admin.site.index_title = "Vendor administration"

urlpatterns = [
    # First: devices call it all day, and URLs are tried in order.
    path("api/v4/", include("licensing.api.client.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
    path("api/v1/", include("licensing.api.management.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's script as a file, not inline, so the pages'
    # Content-Security-Policy holds there too (config/security.py).
    path(
        "api/docs/",
        allowing_inline_styles(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]

# Errors no view answered: JSON under /api/ (signed under /api/v4/), Django's pages elsewhere.
handler400 = "licensing.api.errors.bad_request"
handler403 = "licensing.api.errors.permission_denied"
handler404 = "licensing.api.errors.page_not_found"
handler500 = "licensing.api.errors.server_error"
