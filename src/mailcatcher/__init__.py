"""Catch the email your code sends, so you can read it instead of delivering it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catcher import MailDir, MailFile
    from .query import (
        clear,
        get_latest_message,
        get_messages,
        wait_for_message,
        wait_for_message_async,
    )
    from .store import Entry

__all__ = [
    "Entry",
    "MailDir",
    "MailFile",
    "clear",
    "get_latest_message",
    "get_messages",
    "wait_for_message",
    "wait_for_message_async",
]

# Where each public name lives. They are imported on first use (PEP 562), not here: pytest
# imports this package at start-up in every project that has it installed (the plugin is
# `mailcatcher.pytest_plugin`), and the handlers bring aiosmtpd, asyncio and the email parser
# with them (issue 15).
_HOMES = {
    "Entry": ".store",
    "MailDir": ".catcher",
    "MailFile": ".catcher",
    "clear": ".query",
    "get_latest_message": ".query",
    "get_messages": ".query",
    "wait_for_message": ".query",
    "wait_for_message_async": ".query",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
