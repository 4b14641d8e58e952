"""Email client support for what an HTML body uses, from caniemail.com's data.

The data is a pinned, compact copy of https://github.com/hteumeuleu/caniemail (MIT
License, Copyright (c) 2019 Rémi Parmentier; the license text travels inside
``caniemail.json`` as the license asks), refreshed by ``tools/refresh_caniemail.py``.
It holds, per feature, the newest test on each platform of each client family. Nothing
is fetched: the check is offline.

The summary follows Mailpit's HTML check (``internal/htmlcheck``): each feature found has
one result per family and platform, a score (the share of results that support it fully,
partly or not at all) and a count; the total weighs each feature by how often it occurs
among the body's elements. Findings are stricter about what matters: a feature is worth a
warning when a major client family drops it on a platform people read mail on.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ._scan import Scan

DATA_FILE = "caniemail.json"
#: The families a finding names when they drop a feature, with the platforms that count
#: (Gmail's mobile web client for other providers' accounts is left out: few read there).
MAJOR: dict[str, frozenset[str] | None] = {
    "apple-mail": None,
    "gmail": frozenset({"desktop-webmail", "ios", "android"}),
    # Windows Mail was retired in 2024 for the new Outlook (tested as outlook-com).
    "outlook": frozenset({"windows", "macos", "outlook-com", "ios", "android"}),
    "yahoo": None,
    "samsung-email": None,
    "thunderbird": None,
}
#: Features that clients drop without harm to the message: a finding would be noise.
HARMLESS = {
    "html-body": "clients replace <body> with their own; its content stays",
    "html-doctype": "clients ignore the doctype; the message renders the same",
    "html-target": "clients open links in a new window themselves",
    "html-meta-color-scheme": "a hint; clients without it use their own colours",
    "html-comments": "comments are not shown anyway",
    "html-role": "an accessibility hint (role=presentation on layout tables); kept where read",
    "html-aria-describedby": "an accessibility hint; kept where read",
    "html-aria-hidden": "an accessibility hint; kept where read",
    "html-aria-label": "an accessibility hint; kept where read",
    "html-aria-labelledby": "an accessibility hint; kept where read",
    "html-aria-live": "an accessibility hint; kept where read",
    "html-lang": "a language hint; kept where read",
    "html-dir": "a direction hint; kept where read",
    "css-at-media": "a responsive layout falls back to its desktop one where it is dropped",
    "css-at-media-prefers-color-scheme": "the light design shows where dark mode is dropped",
    "css-comments": "comments are not shown anyway",
}
_NOTE = re.compile(r"#(\d+)")


@dataclass(frozen=True)
class Result:
    """One family's newest test of a feature on one platform."""

    family: str  # caniemail's slug: "outlook"
    platform: str  # "windows"
    name: str  # "Outlook Windows (2019)"
    version: str
    support: str  # "yes", "no", "partial" or "unknown"
    notes: tuple[str, ...]  # note numbers, for `Feature.notes`


@dataclass(frozen=True)
class Feature:
    """A caniemail feature the HTML uses, and how clients support it."""

    slug: str
    title: str
    description: str
    url: str
    category: str
    tags: tuple[str, ...]
    keywords: str
    notes: dict[str, str]
    results: tuple[Result, ...]
    found: int  # how often the HTML uses it
    line: int  # the line of the HTML it is first used on
    supported: float  # percent of results
    partial: float
    unsupported: float

    def dropped_by(self) -> dict[str, list[str]]:
        """The major families that do not support it, each with its platforms' names."""
        dropped: dict[str, list[str]] = {}
        for result in self.results:
            platforms = MAJOR.get(result.family, frozenset())
            if result.support == "no" and (platforms is None or result.platform in platforms):
                dropped.setdefault(result.family, []).append(result.platform)
        return dropped


@dataclass(frozen=True)
class FamilySupport:
    """How one client family supports the features an HTML body uses."""

    family: str
    name: str
    supported: int  # features every platform of the family supports
    partial: int  # features some platform supports only partly
    unsupported: int  # features some platform does not support


@dataclass(frozen=True)
class Support:
    """Client support of an HTML body, summarised as Mailpit's HTML check does."""

    features: tuple[Feature, ...]  # most troublesome first
    families: tuple[FamilySupport, ...]
    platforms: dict[str, list[str]]  # platform slug: the family names tested on it
    tests: int  # features looked for
    nodes: int  # elements in the HTML
    supported: float  # overall percent, weighted as Mailpit weighs it
    partial: float
    unsupported: float
    source: str  # where the data is from, and which commit


@functools.cache
def data() -> dict[str, Any]:
    """The vendored caniemail data, read once."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def known() -> frozenset[str]:
    """Every feature slug in the data."""
    return frozenset(data()["features"])


def family_name(family: str) -> str:
    """A family's display name ("apple-mail" is "Apple Mail")."""
    names: dict[str, str] = data()["families"]
    return names.get(family, family)


def platform_name(platform: str) -> str:
    """A platform's display name ("outlook-com" is "Outlook.com")."""
    names: dict[str, str] = data()["platforms"]
    return names.get(platform, platform)


@functools.cache
def platforms() -> dict[str, list[str]]:
    """Each platform and the families tested on it, as Mailpit's ``Platforms``."""
    found: dict[str, set[str]] = {}
    for family, platform in data()["columns"]:
        found.setdefault(platform, set()).add(family_name(family))
    return {platform: sorted(names) for platform, names in sorted(found.items())}


_SUPPORT = {"y": "yes", "n": "no", "a": "partial"}


def feature(slug: str, found: int, line: int) -> Feature:
    """The data of feature `slug` (which must be in `known`), with its results."""
    info = data()["features"][slug]
    results = []
    for (family, platform), cell in zip(data()["columns"], info["stats"], strict=True):
        if cell is None:
            continue
        version, _, support = cell.partition(" ")
        results.append(
            Result(
                family=family,
                platform=platform,
                name=f"{family_name(family)} {platform_name(platform)} ({version})",
                version=version,
                support=_SUPPORT.get(support[:1], "unknown"),
                notes=tuple(_NOTE.findall(support)),
            )
        )
    counted = [result for result in results if result.support != "unknown"] or results
    total = len(counted) or 1
    return Feature(
        slug=slug,
        title=info["title"],
        description=info["description"],
        url=f"https://www.caniemail.com/features/{slug}/",
        category=info["category"],
        tags=tuple(info["tags"]),
        keywords=info["keywords"],
        notes=dict(info["notes"]),
        results=tuple(results),
        found=found,
        line=line,
        supported=100 * sum(r.support == "yes" for r in counted) / total,
        partial=100 * sum(r.support == "partial" for r in counted) / total,
        unsupported=100 * sum(r.support == "no" for r in counted) / total,
    )


def support(scan: Scan) -> Support:
    """Client support of what `scan` found, summarised."""
    features = [feature(slug, found, line) for slug, (found, line) in scan.features.items()]
    nodes = max(scan.nodes, 1)
    # Mailpit's total: the worst weighted share of any one feature, partial and
    # unsupported apart; supported is what remains.
    partial = max((f.partial * f.found / nodes for f in features), default=0.0)
    unsupported = max((f.unsupported * f.found / nodes for f in features), default=0.0)
    partial, unsupported = min(partial, 100.0), min(unsupported, 100.0 - min(partial, 100.0))
    features.sort(key=lambda f: (-(f.unsupported + f.partial) * f.found, f.slug))
    return Support(
        features=tuple(features),
        families=_families(features),
        platforms=platforms(),
        tests=len(known()),
        nodes=scan.nodes,
        supported=100.0 - partial - unsupported,
        partial=partial,
        unsupported=unsupported,
        source=f"caniemail.com ({data()['source']} at {data()['commit'][:12]}, {data()['date']})",
    )


def _families(features: list[Feature]) -> tuple[FamilySupport, ...]:
    # Per family and feature, the worst of its platforms: 0 supported, 1 partly, 2 not.
    verdicts: dict[str, list[int]] = {}
    for item in features:
        worst: dict[str, int] = {}
        for result in item.results:
            rank = {"no": 2, "partial": 1}.get(result.support, 0)
            worst[result.family] = max(worst.get(result.family, 0), rank)
        for family, rank in worst.items():
            verdicts.setdefault(family, [0, 0, 0])[rank] += 1
    return tuple(
        FamilySupport(family, family_name(family), *counts)
        for family, counts in sorted(verdicts.items(), key=lambda item: family_name(item[0]))
    )
