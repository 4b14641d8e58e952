"""One pass over an HTML body for the checks: its links, images, and the features it uses.

The check needs more than `_html.HTMLReader` keeps (which link text goes with which href,
where each tag is, what CSS the styles declare), but the same stdlib `html.parser`, so
markup a browser would forgive is forgiven here too. Everything is linear in the input and
capped: hostile mail can hold a million anchors or a megabyte-long style attribute.

Features are caniemail.com's slugs (``css-border-radius``, ``html-form``, ``image-webp``),
found the way Mailpit's HTML check finds them (tag names, attributes, CSS properties,
at-rules, pseudo-classes, value functions and units), except that CSS is read as
declarations rather than matched by regular expressions over the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: At most this many links and images are kept for the link and image rules.
MAX_ITEMS = 1000
#: Style text longer than this (one attribute or one <style> element) is read only this far.
MAX_STYLE = 64 * 1024

# --- what finds a feature (tables, not branches) ----------------------------------------

#: Elements that are caniemail features of their own.
TAG_FEATURES = {
    "abbr": "html-abbr",
    "acronym": "html-acronym",
    "address": "html-address",
    "audio": "html-audio",
    "base": "html-base",
    "bdi": "html-bdi",
    "blockquote": "html-blockquote",
    "code": "html-code",
    "del": "html-del",
    "dfn": "html-dfn",
    "dialog": "html-dialog",
    "embed": "html-object",
    "form": "html-form",
    "hr": "html-hr",
    "link": "html-link",
    "map": "html-image-maps",
    "marquee": "html-marquee",
    "meter": "html-meter",
    "object": "html-object",
    "picture": "html-picture",
    "pre": "html-pre",
    "progress": "html-progress",
    "rp": "html-rp",
    "rt": "html-rt",
    "ruby": "html-ruby",
    "select": "html-select",
    "small": "html-small",
    "strike": "html-strike",
    "style": "html-style",
    "svg": "html-svg",
    "textarea": "html-textarea",
    "video": "html-video",
    "wbr": "html-wbr",
    **dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "html-h1-h6"),
    **dict.fromkeys(("ul", "ol", "dl"), "html-lists"),
    **dict.fromkeys(
        (
            "article", "aside", "details", "figcaption", "figure", "footer", "header", "main",
            "mark", "nav", "section", "summary", "time",
        ),
        "html-semantics",
    ),
}  # fmt: skip
#: Attributes that are features on any element.
ATTRIBUTE_FEATURES = {
    "align": "html-align",
    "background": "html-background",
    "bgcolor": "css-background-color",
    "cellpadding": "html-cellpadding",
    "cellspacing": "html-cellspacing",
    "dir": "html-dir",
    "height": "html-height",
    "hidden": "html-hidden",
    "lang": "html-lang",
    "loading": "html-loading-attribute",
    "popover": "html-popover",
    "required": "html-required",
    "role": "html-role",
    "srcset": "html-srcset",
    "target": "html-target",
    "usemap": "html-image-maps",
    "valign": "html-valign",
    "width": "html-width",
}
#: ``<input type=...>`` and ``<button type=...>`` values that are features.
INPUT_FEATURES = {
    ("input", "checkbox"): "html-input-checkbox",
    ("input", "hidden"): "html-input-hidden",
    ("input", "radio"): "html-input-radio",
    ("input", "reset"): "html-input-reset",
    ("input", "submit"): "html-input-submit",
    ("input", "text"): "html-input-text",
    ("button", "reset"): "html-button-reset",
    ("button", "submit"): "html-button-submit",
}
#: Image formats, by the end of an ``<img src>`` path (query and fragment removed).
IMAGE_FEATURES = {
    ".apng": "image-apng",
    ".avif": "image-avif",
    ".bmp": "image-bmp",
    ".gif": "image-gif",
    ".hdr": "image-hdr",
    ".heif": "image-heif",
    ".heic": "image-heif",
    ".ico": "image-ico",
    ".mp4": "image-mp4",
    ".ppm": "image-ppm",
    ".svg": "image-svg",
    ".tif": "image-tiff",
    ".tiff": "image-tiff",
    ".webp": "image-webp",
}
#: Longhand properties whose feature is their shorthand's.
LONGHANDS = {
    "padding": ("top", "right", "bottom", "left"),
    "margin": ("top", "right", "bottom", "left"),
    "border": ("top", "right", "bottom", "left", "color", "style", "width"),
}
#: Functions in a value, by name.
FUNCTION_FEATURES = {
    "calc": "css-unit-calc",
    "clamp": "css-function-clamp",
    "conic-gradient": "css-conic-gradient",
    "light-dark": "css-function-light-dark",
    "linear-gradient": "css-linear-gradient",
    "max": "css-function-max",
    "min": "css-function-min",
    "radial-gradient": "css-radial-gradient",
    "rgb": "css-rgb",
    "rgba": "css-rgba",
    "var": "css-variables",
}
#: Units of a number in a value (the common px, %, em and pt are left out: every client
#: supports them, and a mail is full of them).
UNIT_FEATURES = {
    "ch": "css-unit-ch",
    "rem": "css-unit-rem",
    "vh": "css-unit-vh",
    "vmax": "css-unit-vmax",
    "vmin": "css-unit-vmin",
    "vw": "css-unit-vw",
}
#: ``display`` values that are features of their own.
DISPLAY_FEATURES = {
    "flex": "css-display-flex",
    "grid": "css-display-grid",
    "none": "css-display-none",
}

_FUNCTION = re.compile(r"([a-z-]+)\(")
_UNIT = re.compile(r"\d(ch|rem|vh|vmax|vmin|vw)\b")
_PSEUDO = re.compile(r"(::?)([a-z][a-z-]*)")
_AT_RULE = re.compile(r"@([a-z-]+)")
_MEDIA_FEATURE = re.compile(r"\(\s*([a-z-]+)")
_BLOCKS = re.compile(r"([^{}]*)([{}])")
#: Pseudo-elements CSS 2 allowed with one colon.
_OLD_PSEUDO_ELEMENTS = frozenset({"after", "before", "first-letter", "first-line"})


@dataclass
class Anchor:
    """An ``<a href>``: its target as written, its text, and the line it starts on."""

    href: str
    text: str
    line: int


@dataclass
class Image:
    """An ``<img>``: its source, whether it has an ``alt`` attribute, its line."""

    src: str
    has_alt: bool
    line: int
    tiny: bool  # a 1x1 (or 0x0) tracking pixel, which needs no text


@dataclass
class Scan:
    """What one pass over an HTML body found."""

    anchors: list[Anchor] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    #: caniemail slug: (times found, first line).
    features: dict[str, list[int]] = field(default_factory=dict)
    #: Elements, as Mailpit counts them for its score (all but html, head and meta).
    nodes: int = 0
    #: Whether a cap left something unread.
    capped: bool = False

    #: The slugs worth counting (the data's); anything else is not kept, so a hostile
    #: style with a million made-up properties costs no memory.
    known: frozenset[str] = frozenset()

    def found(self, slug: str, line: int) -> None:
        """Count feature `slug`, first seen on `line`."""
        seen = self.features.get(slug)
        if seen is None:
            if slug in self.known:
                self.features[slug] = [1, line]
        else:
            seen[0] += 1


class _Scanner(HTMLParser):
    def __init__(self, known: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = Scan(known=known)
        self._open_anchors: list[tuple[Anchor, list[str]]] = []
        self._style: list[str] | None = None
        self._style_line = 0
        self._style_size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        scan = self.scan
        line = self.getpos()[0]
        if tag not in ("html", "head", "meta"):
            scan.nodes += 1
        feature = TAG_FEATURES.get(tag)
        if feature is not None:
            scan.found(feature, line)
        if tag == "body":
            scan.found("html-body", line)
        values: dict[str, str] = {}
        for name, value in attrs:
            values.setdefault(name, value or "")
            attribute = ATTRIBUTE_FEATURES.get(name)
            if attribute is not None:
                scan.found(attribute, line)
            elif name.startswith("aria-"):
                scan.found(f"html-{name}", line)
        kind = INPUT_FEATURES.get((tag, values.get("type", "").strip().lower()))
        if kind is not None:
            scan.found(kind, line)
        if tag == "button" and "type" not in values:
            scan.found("html-button-submit", line)  # a button's default type is submit
        style = values.get("style")
        if style:
            self._declarations(style[:MAX_STYLE], line)
            scan.capped = scan.capped or len(style) > MAX_STYLE
        if tag == "a":
            self._anchor(values, line)
        elif tag == "img":
            self._image(values, line)
        elif tag == "style":
            self._style, self._style_line, self._style_size = [], line, 0

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("a", "style"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_anchors:
            anchor, text = self._open_anchors.pop()
            anchor.text = " ".join("".join(text).split())
        elif tag == "style" and self._style is not None:
            self._stylesheet("".join(self._style), self._style_line)
            self._style = None

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            room = MAX_STYLE - self._style_size
            self._style.append(data[:room])
            self._style_size += min(len(data), room)
            self.scan.capped = self.scan.capped or len(data) > room
            return
        for _, text in self._open_anchors[-1:]:
            if sum(map(len, text)) < 1000:  # enough to tell what the label shows
                text.append(data)

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.scan.found("html-doctype", self.getpos()[0])

    def handle_comment(self, data: str) -> None:
        if self._style is not None:  # <!-- --> around old-style CSS
            self.handle_data(data)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # As in `_html.HTMLReader`: Python < 3.13 raises on marked sections it does not
        # know ("<![if mso]>" in Outlook-targeted templates).
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i)

    def _anchor(self, values: dict[str, str], line: int) -> None:
        if "href" not in values:
            return  # a named anchor, not a link
        # As browsers do (WHATWG URL): tabs and newlines dropped, spaces around stripped.
        href = re.sub(r"[\t\n\r]", "", values["href"]).strip(" \f")
        anchor = Anchor(href=href, text="", line=line)
        if len(self.scan.anchors) < MAX_ITEMS:
            self.scan.anchors.append(anchor)
        else:
            self.scan.capped = True
        if anchor.href.startswith("#") and len(anchor.href) > 1:
            self.scan.found("html-anchor-links", line)
        if len(self._open_anchors) < 100:
            self._open_anchors.append((anchor, []))

    def _image(self, values: dict[str, str], line: int) -> None:
        src = values.get("src", "").strip()
        tiny = values.get("width", "").strip() in ("0", "1") and values.get(
            "height", ""
        ).strip() in ("0", "1")
        if len(self.scan.images) < MAX_ITEMS:
            self.scan.images.append(Image(src=src, has_alt="alt" in values, line=line, tiny=tiny))
        else:
            self.scan.capped = True
        if src[:11].lower() == "data:image/":
            self.scan.found("image-base64", line)
            return
        path = src.split("?", 1)[0].split("#", 1)[0].lower()
        dot = path.rfind(".")
        if dot >= 0 and path.rfind("/") < dot:
            feature = IMAGE_FEATURES.get(path[dot:])
            if feature is not None:
                self.scan.found(feature, line)

    def _stylesheet(self, css: str, line: int) -> None:
        """Read a <style> element: at-rules, selectors' pseudo-classes, declarations."""
        css = _without_comments(css)
        for match in _BLOCKS.finditer(css):
            text, bracket = match.groups()
            if bracket == "}":
                self._declarations(text, line)
                continue
            for statement in text.split(";"):
                statement = statement.strip().lower()
                if statement.startswith("@"):
                    self._at_rule(statement, line)
                elif bracket == "{" and statement:
                    self._selector(statement, line)

    def _at_rule(self, prelude: str, line: int) -> None:
        name = _AT_RULE.match(prelude)
        if name is None:
            return
        self.scan.found(f"css-at-{name.group(1)}", line)
        if name.group(1) == "media":
            for feature in _MEDIA_FEATURE.findall(prelude):
                self.scan.found(f"css-at-media-{feature.removeprefix('-webkit-')}", line)

    def _selector(self, selector: str, line: int) -> None:
        for colons, name in _PSEUDO.findall(selector):
            if colons == "::" or name in _OLD_PSEUDO_ELEMENTS:
                self.scan.found(f"css-pseudo-element-{name}", line)
            else:
                self.scan.found(f"css-pseudo-class-{name}", line)

    def _declarations(self, text: str, line: int) -> None:
        for declaration in text.split(";"):
            name, colon, value = declaration.partition(":")
            if not colon:
                continue
            name = name.strip().lower()
            value = value.strip().lower()
            if name.startswith("--"):
                self.scan.found("css-variables", line)
                continue
            self.scan.found(f"css-{_shorthand(name)}", line)
            if name == "display":
                display = DISPLAY_FEATURES.get(value.removesuffix("!important").strip())
                if display is not None:
                    self.scan.found(display, line)
            if "!important" in value:
                self.scan.found("css-important", line)
            for function in _FUNCTION.findall(value):
                feature = FUNCTION_FEATURES.get(function)
                if feature is not None:
                    self.scan.found(feature, line)
            for unit in _UNIT.findall(value):
                self.scan.found(UNIT_FEATURES[unit], line)


def _shorthand(name: str) -> str:
    """The property whose feature `name` is: ``padding-left`` is ``padding``'s."""
    prefix, dash, rest = name.partition("-")
    if prefix == "border" and rest.endswith("radius"):
        return "border-radius"
    sides = LONGHANDS.get(prefix)
    if sides is not None and dash and rest.split("-")[0] in sides:
        return prefix
    return name


def _without_comments(css: str) -> str:
    """`css` without ``/* */`` comments; linear, even with many unclosed ``/*``."""
    out: list[str] = []
    position = 0
    while True:
        start = css.find("/*", position)
        if start < 0:
            out.append(css[position:])
            return "".join(out)
        out.append(css[position:start])
        end = css.find("*/", start + 2)
        if end < 0:
            return "".join(out)
        position = end + 2


def defuse(html: str) -> str:
    """`html` with the constructs that can never end escaped, so that reading it is linear.

    The stdlib parser, fed a construct that never ends (``<a`` with no ``>`` after it,
    ``<!--`` with no ``-->``, ``<![CDATA[`` with no ``]]>``), looks for its end again from
    each next ``<``: 64 KB of ``<a`` took 7.5 s, 256 KB two minutes. Such a ``<`` is text
    to a browser too, so it becomes ``&lt;``, which the parser reads back as the same
    ``<`` of text. Constructs with an end are left alone.
    """
    tail = html.rfind(">") + 1
    if "<" in html[tail:]:
        html = html[:tail] + html[tail:].replace("<", "&lt;")
    for opening, closing in (("<!--", "-->"), ("<![", "]]>")):
        end = html.rfind(closing) + 1
        if html.find(opening, end) >= 0:
            html = html[:end] + html[end:].replace(opening, "&lt;" + opening[1:])
    return html


def scan_html(html: str, known: frozenset[str]) -> Scan:
    """Read `html` once, counting the features in `known`; never raises on bad markup."""
    scanner = _Scanner(known)
    try:
        scanner.feed(defuse(html))
        scanner.close()
    except Exception:  # the stdlib parser's assertion on broken markup: keep what was read
        scanner.scan.capped = True
    for anchor, text in scanner._open_anchors:  # links never closed
        anchor.text = " ".join("".join(text).split())
    return scanner.scan
