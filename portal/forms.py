from __future__ import annotations

from django import forms
from django.contrib.auth import forms as auth_forms
from django.http import HttpRequest

from licensing import accounts, limits, services
from licensing.actors import Actor, client_ip
from licensing.models.base import PortalAccount

from . import throttle

MAX_REQUEST_FILE_BYTES = 256 * 1024  # a real request file is well under 2 KB


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        strip=False, max_length=4096, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    TOO_MANY = "Too many failed sign-ins. Wait 15 minutes and try again, or reset your password."
    WRONG = "That email address and password don't match an account."

    def __init__(self, request: HttpRequest, *args, **kwargs) -> None:
        self.request = request
        self.account: PortalAccount | None = None
        super().__init__(*args, **kwargs)

    def clean(self):
        email, password = self.cleaned_data.get("email"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        client = client_ip(self.request) or "unknown"
        # Refused before any password is checked, so a blocked guesser learns nothing more.
        # The address's attempts are the same lockout as its license user's activations.
        if throttle.SIGN_IN_PER_CLIENT.exceeded(client) or limits.PASSWORD_GUESSES.take(email):
            raise forms.ValidationError(self.TOO_MANY, code="throttled")
        self.account = accounts.authenticate(email, password)
        if self.account is None:
            throttle.SIGN_IN_PER_CLIENT.count(client)
            raise forms.ValidationError(self.WRONG, code="invalid_login")
        limits.PASSWORD_GUESSES.reset(email)
        return self.cleaned_data


class PasswordResetForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class AccountPasswordMixin:
    """Django's password forms, saving through the audited service."""

    user: PortalAccount

    def save(self, *, request: HttpRequest) -> PortalAccount:
        return services.portal_password_set(
            account=self.user, password=self.cleaned_data["new_password1"], actor=Actor.portal(self.user, request)
        )


class SetPasswordForm(AccountPasswordMixin, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(AccountPasswordMixin, auth_forms.PasswordChangeForm):
    pass


class OfflineRequestForm(forms.Form):
    request_file = forms.FileField(
        label="Request file",
        help_text="The file your application saved on the offline computer (for example request.txt).",
        error_messages={
            "required": "Choose the request file your application saved.",
            "empty": "The file is empty. Choose the request file your application saved.",
        },
    )

    def clean_request_file(self) -> bytes:
        upload = self.cleaned_data["request_file"]
        if upload.size > MAX_REQUEST_FILE_BYTES:
            raise forms.ValidationError(
                "This file is far larger than an offline request file; check you chose the right one."
            )
        return upload.read()
