"""Rate limits per client address and per account, with the ``limits`` library.

Three limits, each a ``limits`` rate string in the settings (e.g. ``"20/minute"``): every
request per client address (``request_rate_per_ip``), login attempts per client address
(``login_rate_per_ip``) and login attempts per account name (``login_rate_per_account``,
counted for unknown names too, so the answer does not reveal which names exist). Login
limits use a moving window (no burst at a window's edge); the request limit, checked on
every request, a fixed window (one counter per address, constant time). The request limit's
default (2,000 a second from one address) only stops floods; a load test from one address
raises it with ``INFANTALL_REQUEST_RATE_PER_IP``. Counters live in ``rate_limit_storage``
(``memory://`` for one process; ``redis://...`` when several workers must share them).
Exceeding a limit answers 429 with ``Retry-After`` before any password is checked.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from starlette.requests import Request

from infantall.registry.errors import LockedOutError
from infantall.registry.settings import RegistrySettings

__all__ = ["RateLimitedError", "RateLimiter", "client_address"]


def client_address(request: Request) -> str:
    """The client's address as the server sees it, the key of the per-address limits (the
    proxy's unless proxy headers are trusted: ``infantall serve --proxy-headers``)."""
    return request.client.host if request.client else "unknown"


class RateLimitedError(LockedOutError):
    """Too many requests from one address or for one account (429, ``Retry-After``)."""

    code = "rate_limited"


class RateLimiter:
    """The app's rate limits (one instance per app, built from the settings)."""

    def __init__(self, settings: RegistrySettings) -> None:
        storage = storage_from_string(settings.rate_limit_storage)
        self._strategy = MovingWindowRateLimiter(storage)
        self._requests = FixedWindowRateLimiter(storage)
        self._request_ip = parse(settings.request_rate_per_ip)
        self._login_ip = parse(settings.login_rate_per_ip)
        self._login_account = parse(settings.login_rate_per_account)

    def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = self._strategy.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def request_allowed(self, address: str) -> int | None:
        """``None`` when a request from ``address`` is allowed, else seconds to wait."""
        if self._requests.hit(self._request_ip, "request", address):
            return None
        stats = self._requests.get_window_stats(self._request_ip, "request", address)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def check_login(self, address: str, username: str) -> None:
        """Count one login attempt; raise :class:`RateLimitedError` when over a limit.

        Both counters are hit on every attempt, so that rotating addresses does not help
        against one account and rotating names does not help from one address.
        """
        account = username.casefold()[:64]
        by_ip = self._strategy.hit(self._login_ip, "login-ip", address)
        by_account = self._strategy.hit(self._login_account, "login-account", account)
        if not by_ip:
            retry = self._retry_after(self._login_ip, "login-ip", address)
        elif not by_account:
            retry = self._retry_after(self._login_account, "login-account", account)
        else:
            return
        raise RateLimitedError(f"too many login attempts; retry in {retry} s", retry)

    def clear_account(self, username: str) -> None:
        """Forget the login attempts counted for ``username`` (an administrator's unlock)."""
        self._strategy.clear(self._login_account, "login-account", username.casefold()[:64])
