"""The portal's template filters."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from portal import status

register = template.Library()


@register.filter
def computer(device) -> SafeString:
    """A device by its host name (else its hardware id), capped, the whole name in a tooltip."""
    return status.computer(device)


@register.filter
def computer_text(device) -> str:
    """The same as plain text, for a page's title."""
    return status.computer_text(device)
