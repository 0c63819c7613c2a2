"""Verified answers, as read-only mappings with typed accessors for the common fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import parse_time


class Answer(Mapping[str, Any]):
    """A verified JSON answer. ``from_cache`` is true when it came from the on-disk cache
    (or a license file) because the server could not be reached."""

    def __init__(self, data: Mapping[str, Any], *, from_cache: bool = False) -> None:
        self.data: dict[str, Any] = dict(data)
        self.from_cache = from_cache

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r}, from_cache={self.from_cache})"

    @property
    def server_time(self) -> dt.datetime | None:
        return parse_time(self.data.get("server_time"))


class License(Answer):
    """A license body (activate, check, add_consumption, borrow) or a license file's payload."""

    @property
    def license_key(self) -> str | None:
        return self.data.get("license_key")

    @property
    def user(self) -> str | None:
        return self.data.get("user")

    @property
    def active(self) -> bool:
        return bool(self.data.get("license_active"))

    @property
    def features(self) -> dict[str, Any]:
        return dict(self.data.get("features") or {})

    def has_feature(self, code: str) -> bool:
        return code in (self.data.get("features") or {})

    @property
    def lease_expires_at(self) -> dt.datetime | None:
        return parse_time(self.data.get("lease_expires_at"))

    @property
    def expires_at(self) -> dt.datetime | None:
        """Until when this answer may be used offline: a license file's ``expires_at``,
        else the lease."""
        return parse_time(self.data.get("expires_at")) or self.lease_expires_at

    @property
    def refresh_interval(self) -> float | None:
        value = self.data.get("refresh_interval")
        return float(value) if isinstance(value, int | float) else None

    @property
    def is_floating(self) -> bool:
        return self.data.get("license_model") == "floating"

    @property
    def floating_timeout(self) -> float | None:
        value = self.data.get("floating_timeout")
        return float(value) if isinstance(value, int | float) else None

    @property
    def is_trial(self) -> bool:
        return bool(self.data.get("is_trial"))


class Feature(Answer):
    """One feature (check_license_feature, add_feature_consumption)."""

    @property
    def code(self) -> str:
        return str(self.data.get("code"))

    @property
    def value(self) -> Any:
        return self.data.get("value")


class Trial(Answer):
    """A trial key's answer: activate with ``license_key``."""

    @property
    def license_key(self) -> str:
        return str(self.data["license_key"])
