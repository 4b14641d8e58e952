"""Catch the email your code sends, so you can read it instead of delivering it."""

from __future__ import annotations

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
