"""The portal's own limits, besides the password lockout it shares with the client API
(licensing.limits.PASSWORD_GUESSES): failed sign-ins per client address, which stops
trying one common password on many accounts, and password mails per address."""

from __future__ import annotations

from licensing.limits import Limit

SIGN_IN_PER_CLIENT = Limit("sign-in-client", attempts=30, window=15 * 60)
PASSWORD_MAILS = Limit("password-mail", attempts=3, window=60 * 60)
