from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Licensing server"
admin.site.site_title = "Licensing server"
admin.site.index_title = "Vendor administration"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]
