"""``mailcatcher check``: what is wrong with the latest (matching) message, for a terminal.

The check itself is `mailcatcher.message.check`; this module prints its report, one line
per finding (severity, code, where, what to fix), then the counts and how the major
client families support the HTML. ``--json`` prints the same as data. The exit status
tells a script whether to fail: `EXIT_PROBLEMS` when any finding is an error.
"""

from __future__ import annotations

from typing import Any

from ..message import Finding, Report
from ..store import Entry
from ._render import plural, printable

#: The families the text summary names (the JSON has all of them).
_SHOWN_FAMILIES = ("apple-mail", "gmail", "outlook", "yahoo", "samsung-email", "thunderbird")


def report_text(entry: Entry, report: Report) -> str:
    """The report as lines for a terminal: findings, counts, client support."""
    recipients = ", ".join(entry.recipients) or "(none)"
    lines = [f"Checked {entry.id}: {entry.sender or '<>'} -> {recipients}  {entry.subject!r}"]
    width = max((len(finding.code) for finding in report.findings), default=0)
    for finding in report.findings:
        lines.append(
            f"{finding.severity:<8} {finding.code:<{width}}  {finding.location}: {finding.message}"
        )
    counts = report.counts()
    if report.findings:
        lines.append(
            f"{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')}, "
            f"{counts['info']} info"
        )
    else:
        lines.append("No problems found.")
    if report.capped:
        lines.append("(a limit was reached: the message was checked in part)")
    if report.support is not None:
        families = [f for f in report.support.families if f.family in _SHOWN_FAMILIES]
        summary = ", ".join(
            f"{family.name} {family.supported}/"
            f"{family.supported + family.partial + family.unsupported}"
            for family in families
        )
        lines.append(f"HTML features fully supported ({report.support.source}): {summary}")
    return printable("\n".join(lines))


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding as ``check --json`` prints it."""
    location = finding.location
    return {
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
        "location": {
            "header": location.header,
            "part": location.part,
            "line": location.line,
            "link": location.link,
        },
        "feature": finding.feature,
        "title": finding.title,
        "source": finding.source,
        "description": finding.description,
    }


def report_json(entry: Entry, report: Report) -> dict[str, Any]:
    """``check --json``: the findings, their counts, and client support per family."""
    support = report.support
    return {
        "id": entry.id,
        "counts": dict(report.counts()),
        "capped": report.capped,
        "findings": [finding_json(finding) for finding in report.findings],
        "client_support": None
        if support is None
        else {
            "source": support.source,
            "families": [
                {
                    "family": family.family,
                    "name": family.name,
                    "supported": family.supported,
                    "partial": family.partial,
                    "unsupported": family.unsupported,
                }
                for family in support.families
            ],
            "features": [
                {
                    "slug": feature.slug,
                    "title": feature.title,
                    "url": feature.url,
                    "found": feature.found,
                    "supported": round(feature.supported, 1),
                    "partial": round(feature.partial, 1),
                    "unsupported": round(feature.unsupported, 1),
                }
                for feature in support.features
            ],
        },
    }
