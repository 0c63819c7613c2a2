"""licensing_client: a client of the licensing server's client API (/api/v4/) that
verifies every answer with the application's public key before believing it."""

__version__ = "0.1.0"

from .answers import Answer, Feature, License, Trial
from .client import LicenseClient
from .errors import (
    ClockTampered,
    ConsumptionLimitReached,
    DeviceNotFound,
    FeatureNotAvailable,
    FloatingNotAvailable,
    InvalidCredentials,
    LeaseExpired,
    LicenseDisabled,
    LicenseError,
    LicenseExpired,
    LicenseNotActive,
    LicenseNotFound,
    LicenseNotYetValid,
    LicenseRevoked,
    RateLimited,
    ReplayedAnswer,
    SeatsExhausted,
    ServerUnreachable,
    SignatureInvalid,
    TooManyAttempts,
    TrialNotAllowed,
    WrongDevice,
)
from .floating import FloatingSession
from .hardware import hardware_id

__all__ = [
    "Answer",
    "ClockTampered",
    "ConsumptionLimitReached",
    "DeviceNotFound",
    "Feature",
    "FeatureNotAvailable",
    "FloatingNotAvailable",
    "FloatingSession",
    "InvalidCredentials",
    "LeaseExpired",
    "License",
    "LicenseClient",
    "LicenseDisabled",
    "LicenseError",
    "LicenseExpired",
    "LicenseNotActive",
    "LicenseNotFound",
    "LicenseNotYetValid",
    "LicenseRevoked",
    "RateLimited",
    "ReplayedAnswer",
    "SeatsExhausted",
    "ServerUnreachable",
    "SignatureInvalid",
    "TooManyAttempts",
    "Trial",
    "TrialNotAllowed",
    "WrongDevice",
    "hardware_id",
]
