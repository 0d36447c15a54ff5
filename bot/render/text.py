"""Text helpers: escaping, length-safe truncation, Slack dates, mentions, links.

Lengths are counted in UTF-16 code units, which is never less than the number of code points,
so a string that fits here fits Slack's limits however Slack counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from store.models import is_user_group

ELLIPSIS = "…"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPE_RE = re.compile(r"[&<>]")
# Characters that show as nothing (or reorder what follows) would make a value read
# differently from what will actually run: control characters (except tab and newline), every
# format character (Unicode category Cf: zero-width space and joiners, word joiner, BOM,
# direction marks and overrides, soft hyphen, tag characters...), line and paragraph
# separators, and the blank-looking Hangul fillers and combining grapheme joiner. Each is
# shown as a visible token naming its code point (``⟨U+200B⟩``), never dropped, so that
# ``ad⟨U+200B⟩min`` does not pass for ``admin``.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f]"
)
_BROADCAST_RE = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,40}$")
_ENTITY_TAIL_RE = re.compile(r"&[a-z#0-9]{0,6}$")


def slen(text: str) -> int:
    """Length in UTF-16 code units (astral characters such as emoji count twice)."""
    n = len(text)
    if text.isascii():
        return n
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut(text: str, units: int) -> str:
    """The longest prefix of ``text`` at most ``units`` UTF-16 code units long."""
    if units <= 0:
        return ""
    if len(text) <= units and slen(text) <= units:
        return text
    raw = text[:units].encode("utf-16-le", "surrogatepass")[: units * 2]
    return raw.decode("utf-16-le", "ignore")


def clip(text: str, limit: int) -> str:
    """Plain text shortened to ``limit`` units, ending in an ellipsis when shortened."""
    if slen(text) <= limit:
        return text
    return cut(text, limit - 1) + ELLIPSIS


def safe_prefix(mrkdwn: str, units: int) -> str:
    """The longest prefix within ``units`` that does not end inside an ``&…;`` entity."""
    return _ENTITY_TAIL_RE.sub("", cut(mrkdwn, units))


def clip_mrkdwn(text: str, limit: int) -> str:
    """Shorten mrkdwn without leaving half an entity (``&am``) or half a link (``<http…``)."""
    if slen(text) <= limit:
        return text
    head = cut(text, limit - 1)
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    head = _ENTITY_TAIL_RE.sub("", head)
    if head.count("```") % 2:
        head = head[: head.rfind("```")]
    return head + ELLIPSIS


def visible_code(char: str) -> str:
    """How an invisible character is shown: ``⟨U+200B⟩``."""
    return f"⟨U+{ord(char):04X}⟩"


def clean(text: str) -> str:
    """Show invisible and direction-changing characters as visible tokens; keep newlines
    and tabs."""
    if text.isascii() and text.isprintable():
        return text
    return _INVISIBLE_RE.sub(lambda m: visible_code(m.group()), text)


def escape(text: str) -> str:
    """Escape user-supplied text for mrkdwn: ``&<>`` and broadcast words never take effect."""
    text = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], clean(text))
    return _BROADCAST_RE.sub("@\u2060\\1", text)


_TOKEN_RE = re.compile(
    r"<(?:@[UW][A-Z0-9]{2,40}|!subteam\^S[A-Z0-9]{2,40}|!date\^\d{1,12}\^[^<>|]{1,200}\|[^<>|]{1,100}"
    r"|(?:https?|mailto):[^\s<>|]{1,1500}(?:\|[^<>|]{1,300})?)>"
)


def sanitize(mrkdwn: str) -> str:
    """Text written by signoff that may hold mentions, dates and links: those tokens are kept,
    everything else is escaped (so a stray ``<!channel>`` or ``&`` cannot do harm)."""
    out: list[str] = []
    last = 0
    for match in _TOKEN_RE.finditer(mrkdwn):
        out.append(escape(mrkdwn[last:match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(escape(mrkdwn[last:]))
    return "".join(out)


def esc(text: str, limit: int) -> str:
    """``escape`` then shorten to ``limit``; cheap even for very long input."""
    return esc_flag(text, limit)[0]


def esc_flag(text: str, limit: int) -> tuple[str, bool]:
    """``esc``, and whether the text had to be shortened."""
    if len(text) > limit:
        text = text[: limit + 1]  # still over the limit once escaped, so it gets an ellipsis
    escaped = escape(text)
    if slen(escaped) <= limit:
        return escaped, False
    return clip_mrkdwn(escaped, limit), True


def plain(text: str, limit: int) -> str:
    """User text for a plain_text object: cleaned, shortened, never empty."""
    return clip(" ".join(clean(text).split()), limit) or "-"


def code_inline(text: str, limit: int) -> str:
    """Short text in inline code (backticks inside are swapped for a look-alike)."""
    return code_inline_flag(text, limit)[0]


def code_inline_flag(text: str, limit: int) -> tuple[str, bool]:
    """``code_inline``, and whether the text had to be shortened."""
    body, short = esc_flag(text.replace("`", "\u02cb").replace("\n", " "), max(limit - 2, 1))
    return f"`{body}`", short


def quote_block(text: str, limit: int) -> tuple[str, bool]:
    """Escaped text shown as a mrkdwn block quote, and whether it had to be shortened."""
    body, short = esc_flag(text, limit)
    quoted = "\n".join("> " + line for line in body.split("\n"))
    if slen(quoted) > limit:
        return clip_mrkdwn(quoted, limit), True
    return quoted, short


def fit_lines(lines: Sequence[str], limit: int, more: str = "…and {n} more") -> tuple[str, bool]:
    """Join whole lines up to ``limit``; the lines that do not fit become one "…and N more"."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        rest = len(lines) - i - 1
        reserve = slen(more.format(n=len(lines))) + 1 if rest else 0
        cost = slen(line) + (1 if out else 0)
        if used + cost + reserve > limit:
            tail = more.format(n=len(lines) - i)
            return "\n".join([*out, tail]) if out else clip(tail, limit), True
        out.append(line)
        used += cost
    return "\n".join(out), False


def mention(user: str | None) -> str:
    """``<@U…>`` for a Slack user id; anything else is shown as escaped text."""
    if not user:
        return "someone"
    if _USER_ID_RE.match(user):
        return f"<@{user}>"
    return esc(user, 100)


def mention_any(principal: str) -> str:
    """A user (``<@U…>``) or a user group (``<!subteam^S…>``) from route config."""
    if is_user_group(principal):
        return f"<!subteam^{principal}>"
    return mention(principal)


def mentions(users: Iterable[str], limit: int = 1000,
             acting_for: Mapping[str, str] | None = None) -> str:
    """Several users, comma separated, shortened to "+N more" past ``limit``; a delegate's
    approval (``acting_for``) names both people."""
    text, _ = fit_lines([acting(u, (acting_for or {}).get(u)) for u in users], limit,
                        "+{n} more")
    return text.replace("\n", ", ")


def acting(user: str | None, on_behalf_of: str | None) -> str:
    """``<@U2> on behalf of <@U1>`` for a delegate's decision; else the one mention."""
    if on_behalf_of:
        return f"{mention(user)} on behalf of {mention(on_behalf_of)}"
    return mention(user)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC, as the store writes them."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Slack's date token: shown in each reader's own time zone, with a UTC fallback."""
    utc = as_utc(moment)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{fmt}|{fallback}>"


def duration(span: timedelta) -> str:
    """``2d 3h``, ``1h 5m``, ``45s``: the two largest units."""
    seconds = max(int(span.total_seconds()), 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def safe_url(url: str | None, limit: int = 1500) -> str | None:
    """A URL fit for ``<url|title>``: http(s) or mailto only, link syntax characters encoded."""
    if not url:
        return None
    url = clean(url).strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https", "mailto"):
        return None
    encoded = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    encoded = encoded.replace("&", "&amp;")
    return encoded if len(encoded) <= limit else None


def link(url: str | None, title: str, limit: int = 300) -> str:
    """``<url|title>`` when the URL is safe, else the escaped title alone."""
    label = esc(title, limit).replace("|", "¦") or "link"
    target = safe_url(url)
    return f"<{target}|{label}>" if target else label
