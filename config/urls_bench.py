"""The project's URLs plus a baseline view, for `make bench` only."""

from django.http import JsonResponse
from django.urls import path

from .urls import urlpatterns as project_urlpatterns

BASELINE_BODY = {"status": "ok", "license_active": True, "features": {"export": True}}


def baseline(request):
    """A fixed JSON answer through the same stack (gunicorn, middleware, URL routing)."""
    return JsonResponse(BASELINE_BODY)


urlpatterns = [path("bench/baseline", baseline), *project_urlpatterns]
