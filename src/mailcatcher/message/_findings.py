"""What a check reports: findings with a code, a severity and a place, and the report.

A `Finding`'s code is a row of `_rules.RULES`, which holds its severity, its title and the
source it enforces; the finding adds what to fix and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from ._rules import RULES, SEVERITIES, Severity
from ._scan import Scan
from ._support import Support


@dataclass(frozen=True)
class Location:
    """Where a finding is: a header, a part (IMAP part number), a line, a link.

    `line` counts from 1: in the stored message when `part` is None, else in the part's
    decoded text (the HTML source a developer edits).
    """

    header: str | None = None
    part: str | None = None
    line: int | None = None
    link: str | None = None

    def __str__(self) -> str:
        where = []
        if self.header is not None:
            where.append(f"header {self.header}")
        if self.part is not None:
            where.append(f"part {self.part}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.link is not None:
            where.append(f"link {self.link}")
        return ", ".join(where) or "message"


@dataclass(frozen=True)
class Finding:
    """One problem: its rule's code and severity, what to fix, and where."""

    code: str
    severity: Severity
    message: str
    location: Location
    #: The caniemail feature (``css-border-radius``) of a ``client-unsupported`` finding.
    feature: str | None = None

    @property
    def title(self) -> str:
        """The rule in a few words."""
        return RULES[self.code].title

    @property
    def source(self) -> str:
        """The RFC section (or other source) the rule enforces."""
        return RULES[self.code].source

    @property
    def description(self) -> str:
        """The rule, quoting its source."""
        return RULES[self.code].description

    def __str__(self) -> str:
        return f"{self.severity}: {self.code} ({self.location}): {self.message}"


@dataclass(frozen=True)
class Report:
    """What `check` found, most severe first, and the HTML's client support."""

    findings: tuple[Finding, ...]
    #: Client support of the HTML body (caniemail.com data), or None without one.
    support: Support | None = None
    #: Whether a cap (`MAX_HTML`, `MAX_PARTS`, `MAX_PER_CODE`...) left something unchecked.
    capped: bool = False

    def counts(self) -> dict[Severity, int]:
        """How many findings of each severity, every severity present (0 when none)."""
        found: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            found[finding.severity] += 1
        return found

    def at_least(self, severity: Severity) -> list[Finding]:
        """The findings of `severity` or worse ("warning": errors and warnings)."""
        rank = SEVERITIES.index(severity)
        return [f for f in self.findings if SEVERITIES.index(f.severity) <= rank]

    @property
    def errors(self) -> list[Finding]:
        """The error-severity findings."""
        return [finding for finding in self.findings if finding.severity == "error"]

    def __str__(self) -> str:
        if not self.findings:
            return "no problems found"
        return "\n".join(str(finding) for finding in self.findings)


@dataclass
class Context:
    """What the rules read, worked out once."""

    message: Message
    raw: bytes | None
    parts: list[tuple[str, Message]]  # leaves, with IMAP part numbers
    containers: list[tuple[str, Message]]
    html: tuple[str, str] | None = None  # (part id, decoded HTML) of the HTML body
    text: tuple[str, str] | None = None
    scan: Scan = field(default_factory=Scan)
    support: Support | None = None
    capped: bool = False


def finding(code: str, message: str, location: Location, feature: str | None = None) -> Finding:
    """A finding of rule `code`, with the rule's severity."""
    return Finding(code, RULES[code].severity, message, location, feature)


def short(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters, for a finding's message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
