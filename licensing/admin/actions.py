"""What staff do to records beyond editing them: disable a customer, revoke a code, send
a test event, invite a contact. Each is declared once, as an `ObjectAction`, and becomes

* a button on the record's page, leading to a confirmation page whose POST calls the
  action's service;
* a bulk action on the list ("Disable selected customers"), through the same
  confirmation page, calling the service once per row;

both behind one permission: Django's `@admin.action(permissions=[...])`, answered by the
ModelAdmin's `has_<permission>_permission`. It is checked on the server for every
request: a hidden button is a courtesy, the check is the protection.

The confirmation says what will happen: the action's `consequence`, and its `impact` on
the rows chosen (how many entitlements and devices stop, which stay off and why), read in
a constant number of queries however many rows were chosen. Colours mean one thing
(`tone`): green turns something back on, red stops something, the rest are neutral.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..actors import Actor
from ..errors import DomainError
from ..services import Transition


@dataclass(frozen=True)
class ObjectAction:
    name: str  # URL segment, and with "_selected" the bulk action's name: "disable"
    label: str  # button and confirmation text: "Disable customer"
    service: Callable[..., Any]  # called with the row (as `service_argument`) and the actor
    permission: str  # "disable": the ModelAdmin's has_disable_permission(request, obj=None)
    done: str  # past participle for messages: "disabled"
    transition: Transition | None = None  # a status switch: offered only from the states it allows
    consequence: str = ""  # what happens, on the confirmation page
    danger: bool = False
    bulk: bool = True  # also offered on the list, for the selected rows
    # Whether to ask for a reason, for the audit history (and the portal); status switches do.
    asks_reason: bool | None = None
    shows_secret: bool = False  # the service returns (row, secret): shown once on the next page
    # What is said when done: "Test event queued for “{obj}”."; default "<Noun> “{obj}” <done>."
    # `{result}` is what the service returned (the code it made).
    message: str = ""
    bulk_label: str = ""  # the bulk action's text; default "<Verb> selected <records>"
    bulk_done: str = ""  # "Queued {count} {nouns} for redelivery."; default "<Done> {count} {nouns}."
    applies: Callable[[Any], bool] | None = None  # whether the button is offered for a record, besides `transition`
    # What it does to the chosen rows, in sentences (safe HTML) for the confirmation page:
    # given them all at once, so its queries do not grow with their number.
    impact: Callable[[Sequence[Any]], Iterable[str]] | None = None
    final: bool = False  # cannot be undone (a revocation): said so, in red

    def __post_init__(self) -> None:
        if self.shows_secret and self.bulk:
            raise ValueError(f"{self.name}: a secret is shown for one record at a time, never in bulk.")

    @property
    def bulk_name(self) -> str:
        return f"{self.name.replace('-', '_')}_selected"

    @property
    def takes_reason(self) -> bool:
        return self.asks_reason if self.asks_reason is not None else self.transition is not None

    @property
    def tone(self) -> str:
        """ "go" (green) for a switch back on, "danger" (red) for one that stops something,
        "neutral" for the rest (renew, generate a code, redeliver)."""
        if self.danger or self.final:
            return "danger"
        if self.transition is not None and not self.transition.stops:
            return "go"
        return "neutral"

    def applies_to(self, obj: models.Model) -> bool:
        if self.applies is not None and not self.applies(obj):
            return False
        return self.transition is None or self.transition.allows(obj.status)


def model_permission(codename: str) -> Callable[..., bool]:
    """A `has_<name>_permission` method granting the action to holders of `codename`."""

    def has_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return request.user.has_perm(codename)

    return has_permission


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional. Recorded in the audit history, and shown to the customer's people in the portal.",
    )


class ObjectActionsMixin:
    """Give a ModelAdmin the `object_actions` it declares. `service_argument` is the
    keyword its services take for this model ("customer", "license", ...)."""

    object_actions: Sequence[ObjectAction] = ()
    service_argument: str = ""
    change_form_template = "admin/licensing/change_form.html"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bulk = [self._bulk_action(action) for action in self.object_actions if action.bulk]
        self.actions = [*(self.actions or ()), *bulk]

    def service_arguments(self, request: HttpRequest) -> dict[str, Any]:
        """What the services take besides the row and the actor (a ModelAdmin may add)."""
        return {}

    def show_secret(self, request: HttpRequest, obj: models.Model, secret: str, *, title: str) -> HttpResponse:
        raise NotImplementedError(f"{type(self).__name__} declares an action that shows a secret.")

    # Buttons and their pages.

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.object_action_view)
        name = f"{opts.app_label}_{opts.model_name}_action"
        return [path("<path:object_id>/actions/<slug:action_name>/", view, name=name), *super().get_urls()]

    def action_url(self, obj: models.Model, action: ObjectAction) -> str:
        opts = self.model._meta
        name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_action"
        return reverse(name, args=[obj.pk, action.name])

    def _permitted(self, request: HttpRequest, action: ObjectAction, obj: models.Model | None = None) -> bool:
        return getattr(self, f"has_{action.permission}_permission")(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add:
            context["action_buttons"] = [
                {"label": action.label, "url": self.action_url(obj, action), "tone": action.tone}
                for action in self.object_actions
                if action.applies_to(obj) and self._permitted(request, action, obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def object_action_view(self, request: HttpRequest, object_id: str, action_name: str) -> HttpResponse:
        action = self._action(action_name)
        # Permission first, so a refused user learns nothing about the object.
        if not self.has_view_or_change_permission(request) or not self._permitted(request, action):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with that id.")
        if not self._permitted(request, action, obj):
            raise PermissionDenied
        opts = obj._meta
        change_url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        if not action.applies_to(obj):
            if action.transition is not None and not action.transition.allows(obj.status):
                text = (
                    f"{opts.verbose_name.capitalize()} “{obj}” is {obj.get_status_display().lower()}; "
                    f"nothing to {action.transition.verb}."
                )
            else:
                text = f"Nothing to {action.label.lower()} on {opts.verbose_name} “{obj}”."
            self.message_user(request, text, messages.WARNING)
            return HttpResponseRedirect(change_url)
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                result = self._run(request, action, obj, form.cleaned_data["reason"])
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(change_url)
            if action.shows_secret:
                row, secret = result
                return self.show_secret(request, row, secret, title=action.label)
            template = action.message or f"{opts.verbose_name.capitalize()} “{{obj}}” {action.done}."
            text = template.format(obj=obj, result=result)
            self.message_user(request, text, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return self._confirmation(request, action, [obj], form, cancel_url=change_url, bulk=False)

    # Bulk actions.

    def _bulk_action(self, action: ObjectAction):
        description = action.bulk_label or f"{action.label.split()[0]} selected %(verbose_name_plural)s"

        @admin.action(description=description, permissions=[action.permission])
        def bulk(modeladmin: ObjectActionsMixin, request: HttpRequest, queryset: models.QuerySet):
            form = ReasonForm(request.POST if "confirm" in request.POST else None)
            if not (form.is_bound and form.is_valid()):
                cancel_url = request.get_full_path()
                return modeladmin._confirmation(request, action, list(queryset), form, cancel_url, bulk=True)
            done, refusals = 0, []
            # Lock order by primary key, so two bulk runs over overlapping rows cannot
            # deadlock each other.
            for obj in queryset.order_by("pk"):
                try:
                    modeladmin._run(request, action, obj, form.cleaned_data["reason"])
                except DomainError as error:
                    refusals.append(error.message)
                else:
                    done += 1
            level = messages.SUCCESS if done else messages.WARNING
            modeladmin.message_user(request, modeladmin._bulk_message(action, done, refusals), level)
            return None

        bulk.__name__ = action.bulk_name
        return bulk

    def _bulk_message(self, action: ObjectAction, done: int, refusals: list[str]) -> str:
        opts = self.model._meta
        nouns = opts.verbose_name if done == 1 else opts.verbose_name_plural
        template = action.bulk_done or f"{action.done.capitalize()} {{count}} {{nouns}}."
        text = template.format(count=done, nouns=nouns)
        if refusals:
            reasons = "; ".join(dict.fromkeys(refusals))  # each reason once
            text += f" {len(refusals)} skipped: {reasons[:500]}"
        return text

    # Shared.

    def _action(self, name: str) -> ObjectAction:
        for action in self.object_actions:
            if action.name == name:
                return action
        raise Http404("No such action.")

    def _run(self, request: HttpRequest, action: ObjectAction, obj: models.Model, reason: str) -> Any:
        arguments = {self.service_argument: obj, "actor": Actor.staff(request), **self.service_arguments(request)}
        if action.takes_reason:
            arguments["reason"] = reason
        return action.service(**arguments)

    def _impact(self, action: ObjectAction, objects: list) -> list[str]:
        # Of the rows the action applies to: a bulk run skips the others.
        applicable = [obj for obj in objects if action.applies_to(obj)]
        return list(action.impact(applicable)) if action.impact is not None and applicable else []

    def _confirmation(self, request, action: ObjectAction, objects: list, form, cancel_url: str, bulk: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}?",
            "opts": self.model._meta,
            "action": action,
            "objects": objects,
            "impact": self._impact(action, objects),
            "form": form if action.takes_reason else None,
            "cancel_url": cancel_url,
            "bulk_action": action.bulk_name if bulk else "",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/licensing/confirm_action.html", context)
