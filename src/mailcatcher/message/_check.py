"""Checking a message: standards, links, deliverability and client support, offline.

`check` runs every rule in `_rules.RULES` over a parsed message (and, when given, the bytes
it was stored as) and returns a `Report`. It never fetches a URL or resolves a name: every
link rule reads the URL alone. Hostile mail is normal here, so each pass is linear and
capped (`MAX_HTML`, `MAX_PARTS`, `MAX_PER_CODE`, the link rules' `MAX_TEXT`); a report
that hit a cap says so in `Report.capped`.

The rules live by kind: `_standards` (headers, MIME, line ends) and `_delivery` (links,
deliverability, client support); `_rules.RULES` is the table of their codes.
"""

from __future__ import annotations

from email.message import Message

from . import _delivery as delivery
from . import _standards as standards
from ._findings import Context, Finding, Report
from ._mime import children, is_container, mime_view
from ._rules import RULES, SEVERITIES
from ._scan import scan_html
from ._support import known, support

#: HTML longer than this (decoded characters) is checked this far: five times what Gmail
#: shows (102 KB), and a few seconds of the stdlib parser at worst (300,000 tags).
MAX_HTML = 512 * 1024
#: Parts looked at; a message with more is checked in its first ones.
MAX_PARTS = 1000
#: Findings kept per code: the first ones say what to fix; a thousand more would not.
MAX_PER_CODE = 20


def check(message: Message, raw: bytes | None = None) -> Report:
    """Check `message` against every rule; offline, bounded, never raises on bad mail.

    Args:
        message: A parsed message (``Store.read``); compat32 messages work too.
        raw: The bytes it was stored as (``Store.read_bytes``), for the rules that need
            them: lines over 998 octets and bare CR or LF. Without them those are skipped.

    Returns:
        The findings, errors first, then warnings and infos, each in `RULES` order.
    """
    context = _context(message, raw)
    if context.html is not None:
        context.support = support(context.scan)
    found: list[Finding] = []
    per_code: dict[str, int] = {}
    for rule in _RULE_FUNCTIONS:
        try:
            produced = list(rule(context))
        except Exception:  # a rule's own bug must not hide the others; mail is the sender's
            context.capped = True
            continue
        for finding in produced:
            count = per_code.get(finding.code, 0)
            if count >= MAX_PER_CODE:
                context.capped = True
                continue
            per_code[finding.code] = count + 1
            found.append(finding)
    order = {code: index for index, code in enumerate(RULES)}
    found.sort(key=lambda f: (SEVERITIES.index(f.severity), order[f.code]))
    return Report(findings=tuple(found), support=context.support, capped=context.capped)


def _context(message: Message, raw: bytes | None) -> Context:
    from . import _body_part, part_text

    leaves: list[tuple[str, Message]] = []
    containers: list[tuple[str, Message]] = []
    capped = False
    # IMAP part numbers (RFC 3501 6.4.5), as `parts` gives them; an explicit stack
    # because a hostile message can nest deeper than the recursion limit.
    stack: list[tuple[Message, str]] = [(message, "")]
    while stack:
        part, number = stack.pop()
        if len(leaves) + len(containers) >= MAX_PARTS:
            capped = True
            break
        if is_container(part):
            containers.append((number, part))  # "": the message itself
            prefix = f"{number}." if number else ""
            stack.extend(
                (child, f"{prefix}{index}")
                for index, child in reversed(list(enumerate(children(part), start=1)))
            )
        else:
            if mime_view(part).get_content_maintype() == "multipart":
                containers.append((number, part))  # a multipart left unparsed
            leaves.append((number or "1", part))
    context = Context(message, raw, leaves, containers, capped=capped)
    ids = {id(part): number for number, part in leaves}
    for subtype in ("html", "plain"):
        try:
            body = _body_part(message, subtype)
        except Exception:  # MIME parameters the stdlib cannot read: check the rest
            context.capped = True
            continue
        if body is not None:
            text = part_text(body)
            pair = (ids.get(id(body), "1"), text)
            if subtype == "html":
                context.html = pair
                context.scan = scan_html(text[:MAX_HTML], known())
                context.capped = context.capped or len(text) > MAX_HTML or context.scan.capped
            else:
                context.text = pair
    return context


#: The rules, in the order they run (the report orders findings by severity and code).
_RULE_FUNCTIONS = (
    standards.from_header,
    standards.date,
    standards.message_id,
    standards.mime_version,
    standards.raw_lines,
    standards.bodies,
    standards.headers,
    standards.multiparts,
    delivery.links,
    delivery.alternative,
    delivery.unsubscribe,
    delivery.html_size,
    delivery.images,
    delivery.alignment,
    delivery.clients,
)
