"""Every rule the check applies: its stable code, its severity, and the source it enforces.

One row per finding code; the README's "Checking your mail" lists the same rows (a test
compares them). A code never changes meaning once released: tools filter on it.

Severities: ``error`` breaks a standard's MUST or a link that cannot work for the
recipient; ``warning`` is what mail clients or receiving servers are known to punish;
``info`` is worth knowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
#: Most severe first.
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    """A rule: its code, how bad breaking it is, and what it enforces, quoting the source."""

    code: str
    severity: Severity
    group: str  # "standards", "links", "deliverability", "client support"
    title: str  # the rule in a few words
    source: str  # the RFC section or the body that sets it
    description: str  # the rule, quoting its source


_ROWS = (
    # --- standards -------------------------------------------------------------------------
    Rule(
        "from-missing", "error", "standards", "a From header", "RFC 5322 section 3.6",
        'RFC 5322 3.6: "The only required header fields are the origination date field and '
        'the originator address field(s)", and the originator field is From.',
    ),
    Rule(
        "from-invalid", "error", "standards", "From holds one parseable address list",
        "RFC 5322 section 3.6.2",
        'RFC 5322 3.6.2: "from = "From:" mailbox-list CRLF", once per message (3.6); each '
        "mailbox is an addr-spec, local-part@domain (3.4.1).",
    ),
    Rule(
        "date-missing", "error", "standards", "a Date header", "RFC 5322 section 3.6",
        'RFC 5322 3.6: the origination date field is required: "orig-date = "Date:" '
        'date-time CRLF".',
    ),
    Rule(
        "date-invalid", "error", "standards", "Date is an RFC 5322 date-time with a zone",
        "RFC 5322 section 3.3",
        'RFC 5322 3.3: "date-time = [ day-of-week "," ] date time [CFWS]", where time '
        'includes the zone: "time = time-of-day zone".',
    ),
    Rule(
        "message-id-missing", "warning", "standards", "a Message-ID header",
        "RFC 5322 section 3.6.4",
        'RFC 5322 3.6.4: "Every message SHOULD have a "Message-ID:" field." Threading and '
        "duplicate detection rely on it, and spam filters count its absence.",
    ),
    Rule(
        "message-id-invalid", "warning", "standards", "Message-ID is <left@right>",
        "RFC 5322 section 3.6.4",
        'RFC 5322 3.6.4: "msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]", with '
        "dot-atom-text on the left and dot-atom-text or a no-fold literal on the right.",
    ),
    Rule(
        "mime-version-missing", "warning", "standards", "MIME-Version with MIME content",
        "RFC 2045 section 4",
        'RFC 2045 4: "Messages composed in accordance with this document MUST include such '
        'a header field, with the following verbatim text: MIME-Version: 1.0".',
    ),
    Rule(
        "line-too-long", "error", "standards", "lines of at most 998 octets",
        "RFC 5322 section 2.1.1",
        'RFC 5322 2.1.1: "Each line of characters MUST be no more than 998 characters, and '
        'SHOULD be no more than 78 characters, excluding the CRLF." Servers break longer '
        "lines (RFC 5321 4.5.3.1.6), which corrupts the text; encode the part as "
        "quoted-printable or base64.",
    ),
    Rule(
        "bare-line-break", "error", "standards", "no CR or LF alone", "RFC 5322 section 2.3",
        'RFC 5322 2.3: "CR and LF MUST only occur together as CRLF; they MUST NOT appear '
        'independently in the body." The store writes line ends its own way, so this is '
        "found in bytes that kept theirs (a message file given to the check).",
    ),
    Rule(
        "8bit-in-7bit", "error", "standards", "7bit parts hold only 7-bit bytes",
        "RFC 2045 section 2.7",
        'RFC 2045 2.7: "7bit data" is "lines of characters with no octets with decimal '
        'values greater than 127"; a part without Content-Transfer-Encoding is 7bit (6.1). '
        "Declare 8bit (with 8BITMIME) or use quoted-printable or base64.",
    ),
    Rule(
        "header-8bit", "warning", "standards", "non-ASCII headers use RFC 2047 words",
        "RFC 5322 section 2.2, RFC 2047, RFC 6532",
        'RFC 5322 2.2: header field bodies are "composed of printable US-ASCII characters"; '
        "other text goes in RFC 2047 encoded words, unless the message was sent with "
        "SMTPUTF8 (RFC 6531, RFC 6532). The catcher does not record SMTPUTF8; a non-ASCII "
        "envelope address implies it.",
    ),
    Rule(
        "encoded-word-invalid", "warning", "standards", "well-formed RFC 2047 encoded words",
        "RFC 2047 sections 2 and 4",
        'RFC 2047 2: "encoded-word = "=?" charset "?" encoding "?" encoded-text "?="", '
        'encoding "B" or "Q", and "An encoded-word may not be more than 75 characters long"; '
        "its text must decode in its charset.",
    ),
    Rule(
        "multipart-unclosed", "error", "standards", "a multipart ends with its close delimiter",
        "RFC 2046 section 5.1.1",
        'RFC 2046 5.1.1: "close-delimiter := delimiter "--"" ends every multipart body; '
        "without it a reader cannot tell whether the message was cut short.",
    ),
    Rule(
        "multipart-boundary-missing", "error", "standards", "a multipart names its boundary",
        "RFC 2046 section 5.1.1",
        'RFC 2046 5.1.1: "The Content-Type field for multipart entities requires one '
        'parameter, "boundary"."',
    ),
    Rule(
        "charset-missing", "warning", "standards", "non-ASCII text declares its charset",
        "RFC 2046 section 4.1.2",
        'RFC 2046 4.1.2: "The default character set, which must be assumed in the absence of '
        'a charset parameter, is US-ASCII." Non-ASCII text without charset= is read in '
        "whatever the client guesses.",
    ),
    # --- links -----------------------------------------------------------------------------
    Rule(
        "link-localhost", "error", "links", "no links to localhost or loopback",
        "RFC 6761 section 6.3, RFC 1122 section 3.2.1.3",
        "localhost (RFC 6761 6.3) and 127.0.0.0/8 or ::1 (RFC 1122 3.2.1.3, RFC 4291) are "
        "the recipient's own machine: the app built the link from its development URL.",
    ),
    Rule(
        "link-private", "error", "links", "no links to private networks",
        "RFC 1918, RFC 4193, RFC 3927, RFC 6762",
        "10/8, 172.16/12, 192.168/16 (RFC 1918), fc00::/7 (RFC 4193), link-local addresses "
        "(RFC 3927), .local names (RFC 6762) and single-label host names do not reach the "
        "recipient from the internet.",
    ),
    Rule(
        "link-insecure", "warning", "links", "https: links", "RFC 8446, RFC 9110 section 4.2.2",
        "An http: link (RFC 9110 4.2.1) travels unencrypted: tokens in it can be read and "
        "changed on the way, and browsers mark the page not secure. Use https: (RFC 9110 "
        "4.2.2).",
    ),
    Rule(
        "link-relative", "error", "links", "absolute URLs", "RFC 3986 sections 4.2 and 5.1",
        "A relative reference (RFC 3986 4.2) needs a base URI to resolve against (5.1); a "
        "mail has none, so the link goes nowhere.",
    ),
    Rule(
        "link-mismatch", "warning", "links", "link text shows the domain it points to",
        "RFC 3986 section 3.2.2; anti-phishing practice",
        "A link whose text shows one domain and whose href points to another is what "
        "phishing looks like; spam filters and clients flag it.",
    ),
    Rule(
        "link-empty", "warning", "links", "links go somewhere", "HTML Living Standard 4.6.1",
        'An <a href=""> or href="#" reloads or jumps nowhere in a mail client: a template '
        "variable was empty.",
    ),
    Rule(
        "mailto-invalid", "warning", "links", "mailto: links hold addresses",
        "RFC 6068 section 2",
        'RFC 6068 2: "mailtoURI = "mailto:" [ to ] [ hfields ]", where to is a list of '
        "addr-spec (RFC 5322 3.4.1), percent-encoded.",
    ),
    Rule(
        "tel-invalid", "warning", "links", "tel: links hold phone numbers", "RFC 3966 section 3",
        'RFC 3966 3: "telephone-subscriber = global-number / local-number"; a global number '
        'starts with "+" and holds digits and the separators "-", ".", "(" and ")", and a '
        'local number needs ";phone-context=". No spaces.',
    ),
    # --- deliverability ---------------------------------------------------------------------
    Rule(
        "html-without-text", "warning", "deliverability", "HTML with a text alternative",
        "RFC 2046 section 5.1.4",
        "RFC 2046 5.1.4 (multipart/alternative) lets each client show the best version it "
        "can; HTML alone is unreadable in text clients and scores as spam.",
    ),
    Rule(
        "unsubscribe-no-one-click", "warning", "deliverability",
        "List-Unsubscribe with one-click", "RFC 8058 section 3.1",
        'RFC 8058 3.1: one-click needs an HTTPS URI in List-Unsubscribe and "List-'
        'Unsubscribe-Post: List-Unsubscribe=One-Click"; Gmail and Yahoo require it of bulk '
        "senders since 2024.",
    ),
    Rule(
        "unsubscribe-no-target", "warning", "deliverability",
        "List-Unsubscribe holds an https: or mailto: URI", "RFC 2369 section 3.2",
        'RFC 2369 3.2: "List-Unsubscribe: <mailto:...>, <https://...>": angle-bracketed '
        "URIs a client can act on; mail clients use https: and mailto: only.",
    ),
    Rule(
        "unsubscribe-header-missing", "warning", "deliverability",
        "bulk mail carries List-Unsubscribe", "RFC 2369 section 3.2, RFC 8058",
        "A mail with an unsubscribe link is bulk mail: Gmail and Yahoo require "
        "List-Unsubscribe (RFC 2369) with one-click (RFC 8058) of bulk senders since 2024.",
    ),
    Rule(
        "html-too-large", "warning", "deliverability", "HTML under 102 KB",
        "Gmail's clipping limit",
        "Gmail shows only the first 102 KB of a message's HTML and hides the rest behind "
        '"[Message clipped]" (with the unsubscribe link and tracking pixel).',
    ),
    Rule(
        "image-no-alt", "warning", "deliverability", "images have alt text",
        "WCAG 2.2 success criterion 1.1.1",
        "Many clients block images until asked; WCAG 1.1.1 asks for a text alternative. "
        'Use alt="" for a decorative image.',
    ),
    Rule(
        "from-domain-mismatch", "warning", "deliverability",
        "From's domain aligns with the envelope sender's", "RFC 7489 section 3.1",
        "DMARC (RFC 7489 3.1) passes on SPF only when the envelope sender's domain (MAIL "
        "FROM) aligns with the From domain (the same organizational domain).",
    ),
    # --- client support ---------------------------------------------------------------------
    Rule(
        "client-unsupported", "warning", "client support",
        "HTML and CSS that major clients support", "caniemail.com",
        "A feature that Gmail, Outlook, Apple Mail, Yahoo, Samsung Email or Thunderbird "
        "drops on some platform (their newest test on caniemail.com): check that the mail "
        "still reads well without it.",
    ),
)  # fmt: skip

#: Every rule, by code, in the order findings are listed within a severity.
RULES: dict[str, Rule] = {rule.code: rule for rule in _ROWS}
