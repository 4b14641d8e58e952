"""Reading HTML mail: as terminal text, and for the http(s) links it holds.

One pass of the stdlib `html.parser` does both; nothing here fetches anything.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# --- HTML-----------------------------------------------------------------------------------

# Elements whose content a reader never sees (HTML Living Standard, "hidden" rendering).
_HIDDEN = frozenset({"head", "script", "style", "template", "title"})
# Elements that start a new line. Paragraph-like ones get a blank line around them.
_LINE_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "li", "main",
        "nav", "ol", "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p"})
_CELLS = frozenset({"td", "th"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
# Zero-width characters: templates pad preheaders with them (&zwnj;, &#847;) and they only
# confuse a terminal. U+00AD is the soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u200b\u200c\u200d\u2060\ufeff"))
_CELL_SEPARATOR = " | "


class HTMLReader(HTMLParser):
    """Turn HTML into terminal text and collect its http(s) links in one pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self._out: list[str] = []
        self._hidden: list[str] = []
        self._anchors: list[tuple[str | None, int]] = []
        self._lists: list[int | None] = []  # per open list: next number (ol) or None (ul)
        self._pre = 0
        self._newlines = 0
        self._space = False
        self._cell = False
        self._row_break = False
        self._cell_empty = False
        self._prefix = ""
        self._line_has_text = False

    def feed(self, data: str) -> None:
        """Read a whole document (one call, then `close`): it is made safe to parse first.

        After the last ``>`` no tag can end, yet the stdlib parser tries a tag at every
        ``<`` there and scans to the end of the document each time: 8,000 ``"<a "`` took
        6 s, 64 KB of them minutes. Those ``<`` are text to a browser too (HTML Living
        Standard 13.2.5.6: an unended tag at the end of the file is dropped), so they are
        escaped, and the work stays linear.
        """
        end = data.rfind(">") + 1
        if "<" in data[end:]:
            data = data[:end] + data[end:].replace("<", "&lt;")
        super().feed(data)

    def text(self) -> str:
        """Return the text written so far, with blank lines collapsed."""
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # A <head> that is never closed would otherwise hide the whole message.
            self._hidden.clear()
        if tag in _HIDDEN:
            self._hidden.append(tag)
        if self._hidden:
            return
        attr = dict(attrs)
        if tag == "a":
            href = _clean_href(attr.get("href"))
            if href is not None and _is_web_url(href):
                self.links.append(href)
            self._anchors.append((href, len(self._out)))
        elif tag == "br":
            self._newlines += 1
        elif tag == "img":
            alt = _HTML_SPACE.sub(" ", attr.get("alt") or "").strip()
            if alt:
                self._write(f"[{alt}]")
        elif tag == "hr":
            self._block(1)
            self._write("-" * 20)
            self._block(1)
        elif tag in _CELLS:
            self._start_cell()
        elif tag == "pre":
            self._block(1)
            self._pre += 1
        elif tag in _PARAGRAPHS:
            self._block(2)
        elif tag in _LINE_BLOCKS:
            self._block(1)
        if tag in ("table", "tr"):
            self._row_break = True
        if tag in ("ol", "ul"):
            self._lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            self._list_item()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._hidden:
            del self._hidden[self._hidden.index(tag) :]
            return
        if self._hidden:
            return
        if tag == "a" and self._anchors:
            href, start = self._anchors.pop()
            self._end_link(href, "".join(self._out[start:]).strip())
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._block(1)
        elif tag in _PARAGRAPHS:
            self._block(2)
        elif tag in _LINE_BLOCKS:
            self._block(1)
        if tag in _CELLS or tag in ("table", "tr"):
            self._cell_empty = False
        if tag in ("table", "tr"):
            self._row_break = True
        if tag in ("ol", "ul") and self._lists:
            self._lists.pop()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = data.translate(_INVISIBLE)
        self.links.extend(text_urls(data))
        if self._pre:
            self._flush()
            self._out.append(data)
            self._line_has_text = not data.endswith("\n")
            self._cell_empty = False
            return
        # &nbsp; is how templates keep spacer cells open; in a terminal it is just a space.
        text = _HTML_SPACE.sub(" ", data.replace("\xa0", " "))
        if text[:1] == " ":
            self._space = True
        if text.strip():
            self._write(text.strip())
            self._space = text[-1:] == " "

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # Python < 3.13 raises AssertionError on marked sections it does not know, such as
        # "<![foo]>" in Word-made HTML; read them as the bogus comments HTML5 says they are.
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i)

    def _start_cell(self) -> None:
        # A cell after one with text in the same row continues the line, even when that cell
        # ended with a paragraph or div; rows and whole tables still break it.
        if self._line_has_text and not self._row_break:
            self._newlines = 0
            self._cell = True
        self._cell_empty = True

    def _block(self, newlines: int) -> None:
        if self._cell_empty:
            # A paragraph or div that opens a cell is part of the cell's place in the row.
            return
        self._newlines = max(self._newlines, newlines)

    def _list_item(self) -> None:
        self._block(1)
        indent = "  " * max(0, len(self._lists) - 1)
        number = self._lists[-1] if self._lists else None
        if number is None:
            self._prefix = f"{indent}- "
        else:
            self._prefix = f"{indent}{number}. "
            self._lists[-1] = number + 1

    def _end_link(self, href: str | None, label: str) -> None:
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "cid:")):
            return
        if not label:
            self._write(href)
        elif _comparable(label) != _comparable(href):
            # Appended directly so the target stays on the label's line even when the link
            # ended a block.
            self._out.append(f" ({href})")

    def _write(self, text: str) -> None:
        self._flush()
        self._out.append(text)
        self._line_has_text = True
        self._cell_empty = False

    def _flush(self) -> None:
        """Write the line break, cell separator or space that is due before the next text."""
        if self._newlines and self._out:
            self._out.append("\n" * min(self._newlines, 2))
            self._line_has_text = False
        elif self._cell and self._line_has_text:
            self._out.append(_CELL_SEPARATOR)
        elif self._space and self._line_has_text:
            self._out.append(" ")
        if self._prefix:
            self._out.append(self._prefix)
        self._newlines = 0
        self._cell = self._space = self._row_break = False
        self._prefix = ""


def html_to_text(html: str) -> str:
    """Render HTML as plain text that reads well in a terminal.

    Used when a message has no text part. Head, script and style content is dropped, block
    elements start new lines, table cells are joined with " | ", list items get "- " or
    "1. ", images show their alt text as "[alt]", and a link whose label differs from its
    target reads "label (url)".

    Args:
        html: An HTML document or fragment; malformed markup never raises.

    Returns:
        The text, with at most one blank line in a row and no trailing spaces.
    """
    reader = HTMLReader()
    reader.feed(html)
    reader.close()
    return reader.text()


def _clean_href(href: str | None) -> str | None:
    # The WHATWG URL parser strips leading and trailing spaces and drops tabs and newlines,
    # which HTML templates leave inside long href attributes.
    return None if href is None else re.sub(r"[\t\n\r]", "", href).strip(" \f")


def _comparable(url: str) -> str:
    """Reduce a link label or target to what a reader would consider the same text."""
    url = re.sub(r"^(?:https?://|mailto:|tel:)", "", url.strip(), flags=re.IGNORECASE)
    return url.rstrip("/").lower()


# "<" and ">" are RFC 3986 appendix C's delimiters around a URL in text; quotes and spaces
# cannot occur in one unescaped.
_TEXT_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def text_urls(text: str) -> list[str]:
    """Find the URLs in prose, without the punctuation that ends the sentence around them."""
    urls = []
    for match in _TEXT_URL.finditer(text):
        url = _trim_url(match.group())
        if url.partition("://")[2]:
            urls.append(url)
    return urls


def _trim_url(url: str) -> str:
    """`url` without the sentence punctuation after it; linear in its length.

    A closing bracket stays when the URL opened one (``https://en.wikipedia.org/wiki/
    Mail_(disambiguation)``). The counts are taken once and updated as characters go:
    counting again for each one made a URL followed by 150,000 ``)`` take seconds.
    """
    opened = {closer: url.count(opener) for closer, opener in _CLOSERS.items()}
    closed = {closer: url.count(closer) for closer in _CLOSERS}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _CLOSERS and opened[last] < closed[last]:
            closed[last] -= 1
            end -= 1
        else:
            break
    return url[:end]


def _is_web_url(url: str) -> bool:
    scheme, sep, rest = url.partition("://")
    return bool(sep and rest) and scheme.lower() in ("http", "https")
