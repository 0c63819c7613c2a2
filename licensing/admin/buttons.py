"""Object-tool buttons that are not status switches (those are in switches.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..errors import DomainError


class ObjectButtons:
    """Object-tool buttons that lead to a confirmation page, whose POST calls a service."""

    change_form_template = "admin/licensing/change_form.html"
    buttons: dict[str, tuple[str, str]] = {}  # name: (label, what happens)

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.button_view)
        name = f"{opts.app_label}_{opts.model_name}_button"
        return [path("<path:object_id>/do/<slug:button>/", view, name=name), *super().get_urls()]

    def button_url(self, obj, button: str) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_button", args=[obj.pk, button])

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and self.has_change_permission(request, obj):
            context["switch_buttons"] = [
                {"label": label, "url": self.button_url(obj, name), "danger": False}
                for name, (label, _) in self.buttons.items()
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def button_view(self, request: HttpRequest, object_id: str, button: str) -> HttpResponse:
        if button not in self.buttons:
            raise Http404("No such action.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with that id.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        change_url = reverse(
            f"{self.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
        )
        label, consequence = self.buttons[button]
        if request.method == "POST":
            try:
                return getattr(self, f"do_{button.replace('-', '_')}")(request, obj) or HttpResponseRedirect(change_url)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label}?",
            "opts": self.model._meta,
            "object": obj,
            "label": label,
            "consequence": consequence,
            "cancel_url": change_url,
        }
        return TemplateResponse(request, "admin/licensing/confirm_button.html", context)
