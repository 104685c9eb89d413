"""The composition root's type: everything a request handler, the CLI or a worker needs.

It lives apart from :mod:`server.app` so that resources (``server/resources/``) can name it
without importing the application factory, which itself imports the resources: no import circle.
``server.app.create_app`` builds one per app and keeps it in ``app.extensions["caseflow"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forms.registry import FormRegistry
from server.auth.accounts import Accounts
from server.auth.throttle import LoginThrottle
from server.config import Settings
from store import Store
from sync.clock import Clock
from sync.feed import Feed
from sync.service import WritePath
from sync.views import Reader


@dataclass
class Services:
    """Everything a request handler, the CLI or a worker needs, built once per app."""

    settings: Settings
    store: Store
    clock: Clock
    accounts: Accounts
    throttle: LoginThrottle  # failed logins per (username, address) and per address, in DATA/throttle.sqlite3
    forms: FormRegistry
    case_types: Any
    write_path: WritePath
    reader: Reader
    feed: Feed | None  # None when the definitions could not be loaded
    extra: dict[str, Any] = field(default_factory=dict)


__all__ = ["Services"]
