"""What the ``mailcatcher`` command prints: messages as text and JSON, errors with a status.

The JSON shapes here are documented in the README ("The mailcatcher command"); scripts
depend on them, so a change to a key is a change users notice.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from .. import message as _message
from ..store import DEFAULT_INBOX, Entry

EXIT_OK = 0
EXIT_CANNOT_SERVE = 1
EXIT_USAGE = 2
EXIT_NO_STORE = 3
EXIT_NOT_FOUND = 4
EXIT_TIMEOUT = 5
EXIT_PROBLEMS = 6
EXIT_INTERRUPTED = 130

EXIT_STATUSES = f"""\
exit status:
  {EXIT_OK}    success
  {EXIT_CANNOT_SERVE}    serve/web could not start (port in use, no permission)
  {EXIT_USAGE}    bad arguments (also: a missing extra, such as the web inbox's)
  {EXIT_NO_STORE}    no such store: PATH is missing, unreadable, or not a mail file or Maildir
  {EXIT_NOT_FOUND}    nothing to show: no (matching) message, or it has no link / no HTML part
  {EXIT_TIMEOUT}    wait: no matching message arrived in time
  {EXIT_PROBLEMS}    check: the message has an error-severity finding
  {EXIT_INTERRUPTED}  interrupted by Ctrl-C (serve and web stop cleanly with {EXIT_OK} instead)"""


# What a terminal acts on instead of showing: the C0 controls, DEL and the C1 controls
# (ECMA-48). ESC starts a sequence that can recolour the screen, retitle the window (OSC 0)
# or write the clipboard (OSC 52), U+009B is CSI on its own, and a lone CR lets later text
# overwrite earlier text. A message is the sender's to write, so none of these may reach a
# terminal from it. LF and TAB lay text out and stay.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_SHOWN = {code: f"\\x{code:02x}" for code in _CONTROLS if chr(code) not in "\n\t"}
# json.dumps escapes C0 itself, but with ensure_ascii=False it passes DEL and C1 on raw.
# Only a JSON string can hold them, and there a \u escape keeps the value exact.
_JSON_SHOWN = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def printable(text: str) -> str:
    """`text` fit for a terminal: control characters shown as ``\\xNN`` (ESC as ``\\x1b``).

    What ``show``, ``list``, ``wait``, ``links`` and ``serve`` print comes from the mail,
    and a subject such as ``=?utf-8?q?=1B]52;c;...=07?=`` printed raw would write to the
    reader's clipboard. A CRLF is a line end (base64 text parts keep theirs), so it
    becomes LF rather than a visible ``\\x0d``.
    """
    return text.replace("\r\n", "\n").translate(_SHOWN)


class CommandError(Exception):
    """A failure the user can act on: one line on stderr, then exit with `status`."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def plural(count: int, noun: str) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def size(octets: int) -> str:
    """A size in decimal units, as ``ls -h --si`` shows it."""
    if octets < 1000:
        return f"{octets} B"
    if octets < 1_000_000:
        return f"{octets / 1000:.1f} kB"
    return f"{octets / 1_000_000:.1f} MB"


def local_time(stored: float) -> str:
    """A stored time as local ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.fromtimestamp(stored).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(stored: float) -> str:
    """A stored time as ISO 8601 with the local offset, for JSON."""
    return datetime.fromtimestamp(stored).astimezone().isoformat(timespec="milliseconds")


def summary(entry: Entry) -> str:
    """One line per message: time, sender, recipients, subject, size, attachments."""
    recipients = ", ".join(entry.recipients) or "(none)"
    files = f"  [{plural(entry.attachments, 'attachment')}]" if entry.attachments else ""
    inbox = "" if entry.inbox == DEFAULT_INBOX else f"  inbox {_json_string(entry.inbox)}"
    tags = f"  tags {', '.join(map(_json_string, entry.tags))}" if entry.tags else ""
    return printable(
        f"{local_time(entry.stored)}  {entry.sender or '<>'} -> {recipients}  "
        f"{_json_string(entry.subject)}  {size(entry.size)}{files}{inbox}{tags}"
    )


def envelope_line(message: EmailMessage) -> str:
    """``sender -> recipients  "subject"``, what ``wait`` prints about the message it found."""
    recipients = ", ".join(_message.envelope_recipients(message)) or "(none)"
    subject = _json_string(_message.header(message, "Subject"))
    return printable(f"{_message.envelope_sender(message) or '<>'} -> {recipients}  {subject}")


def show_text(entry: Entry, message: EmailMessage) -> str:
    """The message as a person reads it: envelope, headers, body, attachments, links.

    A message without a text part shows its HTML rendered as text, marked as such.
    """
    recipients = ", ".join(_message.envelope_recipients(message)) or "(none)"
    lines = [
        f"Stored:    {local_time(entry.stored)} ({size(entry.size)}, {entry.path})",
        f"Envelope:  {_message.envelope_sender(message) or '<>'} -> {recipients}",
    ]
    user = _message.auth_user(message)
    if user is not None:
        lines.append(f"AUTH user: {user}")
    if entry.inbox not in (DEFAULT_INBOX, user):  # a folder another program filled
        lines.append(f"Inbox:     {entry.inbox}")
    if entry.tags:
        lines.append(f"Tags:      {', '.join(entry.tags)}")
    for name in ("From", "To", "Cc", "Subject", "Date"):
        value = _message.header(message, name)
        if value or name in ("From", "To", "Subject"):
            lines.append(f"{name + ':':<10} {value}")
    text = _message.text_body(message)
    if text is None:
        html = _message.html_body(message)
        text = "(no text body)" if html is None else _message.html_to_text(html)
        if html is not None:
            lines.extend(["", "[HTML only, rendered as text; --html shows its source]"])
    lines.extend(["", text.strip("\n"), ""])
    files = _message.attachments(message)
    if files:
        lines.append(f"Attachments ({len(files)}):")
        names = [printable(item.filename or "(no name)") for item in files]  # as wide as shown
        sizes = [size(len(item.data)) for item in files]
        name_width = max(map(len, names))
        type_width = max(len(item.content_type) for item in files)
        size_width = max(map(len, sizes))
        for item, name, shown in zip(files, names, sizes, strict=True):
            mark = "  inline" if item.inline else ""
            lines.append(
                f"  {name:<{name_width}}  {item.content_type:<{type_width}}  "
                f"{shown:>{size_width}}{mark}"
            )
    found = _message.links(message)
    if found:
        lines.append(f"Links ({len(found)}):")
        lines.extend(f"  {link}" for link in found)
    return printable("\n".join(lines).rstrip("\n"))


def entry_json(entry: Entry) -> dict[str, Any]:
    """``list --json``: one object per message, from the index alone."""
    return {
        "id": entry.id,
        "stored": iso_time(entry.stored),
        "timestamp": entry.stored,
        "sender": entry.sender,
        "recipients": list(entry.recipients),
        "from": entry.from_header,
        "to": entry.to_header,
        "subject": entry.subject,
        "size": entry.size,
        "attachments": entry.attachments,
        "auth_user": entry.auth_user,
        "inbox": entry.inbox,
        "tags": list(entry.tags),
        "path": str(entry.path),
    }


def message_json(entry: Entry, message: EmailMessage) -> dict[str, Any]:
    """``show --json``: the whole message, bodies decoded, attachments described."""
    html = _message.html_body(message)
    return {
        "id": entry.id,
        "stored": iso_time(entry.stored),
        "timestamp": entry.stored,
        "path": str(entry.path),
        "size": entry.size,
        "envelope": {
            "sender": _message.envelope_sender(message),
            "recipients": _message.envelope_recipients(message),
            "peer": _message.peer(message),
            "auth_user": _message.auth_user(message),
        },
        "inbox": entry.inbox,
        "tags": list(entry.tags),
        "from": _message.header(message, "From"),
        "to": _message.header(message, "To"),
        "cc": _message.header(message, "Cc"),
        "subject": _message.header(message, "Subject"),
        "date": _message.header(message, "Date"),
        "message_id": _message.header(message, "Message-ID"),
        "text": _message.text_body(message),
        "html": html,
        "text_from_html": None if html is None else _message.html_to_text(html),
        "attachments": [
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": len(item.data),
                "inline": item.inline,
                "content_id": item.content_id,
            }
            for item in _message.attachments(message)
        ],
        "links": _message.links(message),
    }


def _json_string(text: str) -> str:
    """`text` as a JSON string literal: quoted, and safe to print (see `print_json`)."""
    return json.dumps(text, ensure_ascii=False).translate(_JSON_SHOWN)


def print_json(value: object) -> None:
    """Print `value` as indented UTF-8 JSON with no control character left raw.

    The JSON means the same (``\\u009b`` is U+009B), but a terminal sees no CSI in it.
    """
    print(json.dumps(value, indent=2, ensure_ascii=False).translate(_JSON_SHOWN))
