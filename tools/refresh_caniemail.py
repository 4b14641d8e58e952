"""Refresh the client-support data the HTML check reads (src/mailcatcher/message/caniemail.json).

The data is caniemail.com's (https://github.com/hteumeuleu/caniemail, MIT License, Copyright
(c) 2019 Rémi Parmentier), read from a checkout of that repository: each ``_features/*.md``
file's front matter holds a feature's title, description and support table. What the
package keeps is a compact, pinned copy: per feature, the newest result on each platform of
each client family (caniemail lists a platform's tests oldest first) as ``"version support"``,
in one column per (family, platform), its notes, and the
repository commit it came from, with the license text the MIT License asks copies to keep.

Run it by hand, never from the package or the tests (the check is offline)::

    git clone https://github.com/hteumeuleu/caniemail /tmp/caniemail
    python tools/refresh_caniemail.py /tmp/caniemail

The front matter is YAML, but only a small part of it: ``key: value`` lines and the flow
mappings ``stats: {...}`` and ``notes_by_num: {...}`` (bare keys, trailing commas, tabs).
A small reader for that part keeps the script free of a YAML dependency.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "mailcatcher" / "message" / "caniemail.json"
SOURCE = "https://github.com/hteumeuleu/caniemail"
SITE = "https://www.caniemail.com"
#: The categories the check reads; "others" (AMP, BIMI, ...) are not in a message's HTML.
CATEGORIES = ("html", "css", "image")

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([{}\[\]:,])|([^\s{}\[\]:,"]+))')


def parse_flow(text: str) -> Any:
    """Read a YAML flow mapping or sequence of plain and double-quoted scalars."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read {text[position : position + 40]!r}")
        position = match.end()
        quoted, punctuation, plain = match.groups()
        if quoted is not None:
            tokens.append(("s", json.loads(f'"{quoted}"')))
        elif punctuation is not None:
            tokens.append(("p", punctuation))
        elif plain is not None:
            tokens.append(("s", plain))
    value, end = _value(tokens, 0)
    if end != len(tokens):
        raise ValueError("text after the value")
    return value


def _value(tokens: list[tuple[str, str]], index: int) -> tuple[Any, int]:
    kind, token = tokens[index]
    if kind == "s":
        return token, index + 1
    if token == "{":
        mapping: dict[str, Any] = {}
        index += 1
        while tokens[index] != ("p", "}"):
            key, index = _value(tokens, index)
            if tokens[index] != ("p", ":"):
                raise ValueError(f"expected ':' after {key!r}")
            value, index = _value(tokens, index + 1)
            mapping[str(key)] = value
            if tokens[index] == ("p", ","):
                index += 1
        return mapping, index + 1
    if token == "[":
        items: list[Any] = []
        index += 1
        while tokens[index] != ("p", "]"):
            item, index = _value(tokens, index)
            items.append(item)
            if tokens[index] == ("p", ","):
                index += 1
        return items, index + 1
    raise ValueError(f"unexpected {token!r}")


def front_matter(text: str) -> dict[str, Any]:
    """The front matter of a feature file: scalars, and the flow mappings parsed."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        raise ValueError("no front matter")
    end = next(index for index in range(1, len(lines)) if lines[index].strip() == "---")
    fields: dict[str, Any] = {}
    index = 1
    while index < end:
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#") or line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if value[:1] and value[0] in "{[":
            # A flow collection runs until its brackets balance (no brackets in its strings).
            block = [value]
            while block_depth("\n".join(block)) > 0:
                block.append(lines[index])
                index += 1
            fields[key.strip()] = parse_flow("\n".join(block))
        elif value[:1] and value[0] in "|>":
            block = []
            while index < end and (not lines[index].strip() or lines[index][:1].isspace()):
                block.append(lines[index].strip())
                index += 1
            fields[key.strip()] = " ".join(part for part in block if part)
        elif value[:1] == '"':
            fields[key.strip()] = json.loads(value)
        elif value[:1] == "'":
            fields[key.strip()] = value[1:-1].replace("''", "'")
        else:
            fields[key.strip()] = value
    return fields


def block_depth(text: str) -> int:
    """How many brackets `text` leaves open, outside double-quoted strings."""
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[{\[]|[}\]]', text):
        token = match.group()
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
    return depth


def newest(stats: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Per family and platform, the last listed test: ``[version, support]``."""
    result: dict[str, dict[str, list[str]]] = {}
    for family, platforms in stats.items():
        if not isinstance(platforms, dict):
            continue
        for platform, versions in platforms.items():
            if isinstance(versions, dict) and versions:
                version, support = list(versions.items())[-1]
                result.setdefault(family, {})[platform] = [str(version), str(support)]
    return result


def nicenames(repo: Path) -> dict[str, dict[str, str]]:
    """The family and platform display names (``_data/nicenames.yml``: two-level mapping)."""
    names: dict[str, dict[str, str]] = {}
    section = ""
    for line in (repo / "_data" / "nicenames.yml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.strip().partition(":")
        if not line[:1].isspace():
            section = key
            names[section] = {}
        else:
            names[section][key.strip()] = json.loads(value.strip())
    return {key: names[key] for key in ("family", "platform")}


def build(repo: Path) -> dict[str, Any]:
    """The compact data from a caniemail checkout at `repo`."""
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    date = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%cs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parsed: dict[str, dict[str, Any]] = {}
    for path in sorted((repo / "_features").glob("*.md")):
        if path.name.startswith("_"):
            continue
        fields = front_matter(path.read_text(encoding="utf-8"))
        if fields.get("category") in CATEGORIES:
            parsed[path.stem] = fields
    tables = {slug: newest(fields.get("stats") or {}) for slug, fields in parsed.items()}
    # One column per (family, platform): each feature's results are a list in that order,
    # so the names are written once rather than in each of 300 features.
    columns = sorted(
        {
            (family, platform)
            for table in tables.values()
            for family in table
            for platform in table[family]
        }
    )
    features: dict[str, Any] = {}
    for slug, fields in parsed.items():
        tags = fields.get("tags") or ""
        table = tables[slug]
        features[slug] = {
            "title": fields.get("title", slug),
            "description": fields.get("description") or "",
            "category": fields["category"],
            "tags": tags.split() if isinstance(tags, str) else list(tags),
            "keywords": fields.get("keywords") or "",
            "notes": {
                str(key): str(value) for key, value in (fields.get("notes_by_num") or {}).items()
            },
            "stats": [
                " ".join(table[family][platform]) if platform in table.get(family, {}) else None
                for family, platform in columns
            ],
        }
    names = nicenames(repo)
    return {
        "source": SOURCE,
        "commit": commit,
        "date": date,
        "license": (repo / "LICENSE").read_text(encoding="utf-8").strip(),
        "families": names["family"],
        "platforms": names["platform"],
        "columns": [list(column) for column in columns],
        "features": features,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a checkout of github.com/hteumeuleu/caniemail")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args()
    data = build(args.repo)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"{len(data['features'])} features from {SOURCE} at {data['commit']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
