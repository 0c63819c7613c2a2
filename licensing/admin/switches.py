"""Status switches in the admin: object-tool buttons, a confirmation page with an
optional reason, and bulk actions, all calling the one service of each change.

Permissions are checked here on the server for every request: a hidden button is a
courtesy, the check is the protection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..audit import Actor
from ..errors import DomainError
from ..services import Transition


@dataclass(frozen=True)
class AdminSwitch:
    name: str  # URL segment and bulk action name: "disable"
    label: str  # button text: "Disable customer"
    done: str  # past participle for messages: "disabled"
    transition: Transition
    service: Callable[..., models.Model]
    permission: str  # "licensing.disable_customer"
    consequence: str = ""  # what happens, shown on the confirmation page
    danger: bool = False
    bulk: bool = True


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional. Recorded in the audit history, and shown to the customer's people in the portal.",
    )


class SwitchAdminMixin:
    """Give a ModelAdmin the switches it declares. `service_argument` is the keyword
    the services take for this model ("customer", "license", ...)."""

    switches: Sequence[AdminSwitch] = ()
    service_argument: str = ""
    change_form_template = "admin/licensing/change_form.html"

    # Buttons and pages.

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.switch_view)
        name = f"{opts.app_label}_{opts.model_name}_switch"
        return [path("<path:object_id>/switch/<slug:switch_name>/", view, name=name), *super().get_urls()]

    def switch_url(self, obj: models.Model, switch: AdminSwitch) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_switch", args=[obj.pk, switch.name])

    def available_switches(self, request: HttpRequest, obj: models.Model) -> list[AdminSwitch]:
        return [s for s in self.switches if s.transition.allows(obj.status) and request.user.has_perm(s.permission)]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["switch_buttons"] = [
                {"label": s.label, "url": self.switch_url(obj, s), "danger": s.danger}
                for s in self.available_switches(request, obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None):
        # Switched records end by revocation or deactivation, never by deletion: a
        # deleted revoked license would let its device activate again, unaudited.
        return False

    def switch_view(self, request: HttpRequest, object_id: str, switch_name: str) -> HttpResponse:
        switch = self._get_switch(switch_name)
        # Permission first, so a refused user learns nothing about the object.
        if not request.user.has_perm(switch.permission) or not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with that id.")
        change_url = reverse(
            f"{self.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
        )
        if not switch.transition.allows(obj.status):
            self.message_user(
                request,
                f"{obj._meta.verbose_name.capitalize()} “{obj}” is {obj.get_status_display().lower()}; "
                f"nothing to {switch.transition.verb}.",
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)

        form = ReasonForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            self._apply(request, switch, obj, form.cleaned_data["reason"])
            return HttpResponseRedirect(change_url)
        return self._confirmation(request, switch, [obj], form, cancel_url=change_url, bulk=False)

    # Bulk actions.

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        for switch in self.switches:
            if switch.bulk and request.user.has_perm(switch.permission):
                name = f"switch_{switch.name}"
                plural = self.model._meta.verbose_name_plural
                description = f"{switch.transition.verb.capitalize()} selected {plural}"
                actions[name] = (self._bulk_action(switch), name, description)
        return actions

    def _bulk_action(self, switch: AdminSwitch):
        def action(modeladmin, request: HttpRequest, queryset: models.QuerySet):
            if not request.user.has_perm(switch.permission):
                raise PermissionDenied
            form = ReasonForm(request.POST if "confirm" in request.POST else None)
            if form.is_bound and form.is_valid():
                done = skipped = 0
                # Lock order by primary key, so two bulk runs over overlapping rows
                # cannot deadlock each other.
                for obj in queryset.order_by("pk"):
                    if self._apply(request, switch, obj, form.cleaned_data["reason"], quiet=True):
                        done += 1
                    else:
                        skipped += 1
                opts = self.model._meta
                noun = opts.verbose_name if done == 1 else opts.verbose_name_plural
                text = f"{switch.done.capitalize()} {done} {noun}."
                if skipped:
                    text += f" {skipped} skipped: already {switch.done} or not in a state to be {switch.done}."
                self.message_user(request, text, messages.SUCCESS if done else messages.WARNING)
                return None
            return self._confirmation(
                request, switch, list(queryset), form, cancel_url=request.get_full_path(), bulk=True
            )

        action.__name__ = f"switch_{switch.name}"
        return action

    # Shared.

    def _get_switch(self, name: str) -> AdminSwitch:
        for switch in self.switches:
            if switch.name == name:
                return switch
        raise Http404("No such action.")

    def _apply(self, request: HttpRequest, switch: AdminSwitch, obj: models.Model, reason: str, quiet=False) -> bool:
        try:
            switch.service(**{self.service_argument: obj}, actor=Actor.staff(request), reason=reason)
        except DomainError as error:
            if not quiet:
                self.message_user(request, error.message, messages.ERROR)
            return False
        if not quiet:
            noun = obj._meta.verbose_name.capitalize()
            self.message_user(request, f"{noun} “{obj}” {switch.done}.", messages.SUCCESS)
        return True

    def _confirmation(self, request, switch: AdminSwitch, objects: list, form: ReasonForm, cancel_url: str, bulk: bool):
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"{switch.label}?",
            "opts": opts,
            "switch": switch,
            "objects": objects,
            "form": form,
            "cancel_url": cancel_url,
            "bulk_action": f"switch_{switch.name}" if bulk else "",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/licensing/confirm_switch.html", context)
