"""Extract the main text and metadata of an HTML page with trafilatura.

cleaner decodes the page itself (UTF-8, else the charset the page declares, else the fallback
encoding when one is given) rather than letting trafilatura guess an encoding or speculatively
decompress the bytes, so that how bytes became text is always stated.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ..document import Fix
from ..errors import DocumentError
from .text import decode_utf8, looks_binary

# trafilatura and htmldate log a warning for every odd page; the run reports errors itself.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

META_FIELDS = ("title", "author", "date", "url", "sitename")
# libxml2 builds at most 256 levels of elements and drops whatever is nested deeper.
MAX_DEPTH = 256
_PRESCAN = 4096
# The charset a page declares in its first bytes: <meta charset=...>, <meta http-equiv=...
# content="...; charset=...">, or an XML declaration (XHTML).
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)|^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.IGNORECASE,
)
# As browsers do (WHATWG encoding standard), a page labelled Latin-1 or ASCII is read as windows-1252.
_WINDOWS_1252_LABELS = {"iso8859-1", "ascii", "cp1252"}


@dataclass(frozen=True)
class Page:
    """The main text of a page, its metadata, and the fixes decoding it needed."""

    text: str
    meta: dict[str, Any]
    fixes: list[Fix] = field(default_factory=list)


def extract(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return the main text of a page (one paragraph per line) and its title, date and url."""
    page = read_page(data)
    return page.text, page.meta


def read_page(data: bytes, fallback_encoding: str | None = None) -> Page:
    """Decode a page, refuse what is not a readable HTML page by name, and extract its main text."""
    if not data.strip():
        raise DocumentError("empty", "the file has no text")
    if looks_binary(data) and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DocumentError("binary", "the file holds binary data (NUL or control bytes), not HTML")
    from trafilatura import bare_extraction  # here: ~0.15 s to import, a cost only pages pay
    from trafilatura.utils import load_html

    markup, meta, fixes = _decode_page(data, fallback_encoding)
    try:
        tree = load_html(markup)
    except Exception as error:  # lxml and trafilatura raise many types on broken markup
        raise DocumentError("html-unparsable", f"{type(error).__name__}: {error}") from None
    if tree is None:
        raise DocumentError(
            "not-html", "the file does not look like an HTML page; give it a .txt extension to read it as text"
        )
    depth = _depth(tree)
    if depth >= MAX_DEPTH:
        raise DocumentError(
            "html-too-deep",
            f"elements nest {depth} levels deep, the HTML parser's limit; the text inside them cannot be read",
        )
    try:
        result = bare_extraction(tree, include_comments=False, with_metadata=True)
    except RecursionError:
        raise DocumentError("html-too-deep", "elements nest too deeply for the extractor to walk them") from None
    except Exception as error:  # as above
        raise DocumentError("html-unparsable", f"{type(error).__name__}: {error}") from None
    if result is None or not (result.text or "").strip():
        raise DocumentError("no-main-text", "trafilatura found no main text in the page")
    meta.update({name: getattr(result, name) for name in META_FIELDS if getattr(result, name, None)})
    return Page(result.text, meta, fixes)


def _decode_page(data: bytes, fallback_encoding: str | None) -> tuple[str, dict[str, Any], list[Fix]]:
    """Decode UTF-8 or UTF-16 with a BOM, else the declared charset, else UTF-8 with the fallback."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), {}, []
        except UnicodeDecodeError as error:
            raise DocumentError("invalid-utf16", f"{error.reason} at byte {error.start}") from None
    try:
        return data.decode("utf-8-sig"), {}, []
    except UnicodeDecodeError:
        pass
    declared = declared_charset(data)
    if declared is not None:
        try:
            return data.decode(declared[1]), {"encoding": declared[0]}, []
        except UnicodeDecodeError:
            pass  # a wrong declaration is no better than none
    decoded = decode_utf8(data, fallback_encoding)
    return decoded.text, {}, decoded.fixes


def declared_charset(data: bytes) -> tuple[str, str] | None:
    """Return (label, Python codec) of the charset a page declares, or None.

    >>> declared_charset(b'<html><head><meta charset="ISO-8859-1">')
    ('ISO-8859-1', 'sloppy-windows-1252')
    >>> declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">')
    ('koi8-r', 'koi8-r')
    """
    match = _DECLARED_CHARSET.search(data[:_PRESCAN])
    if match is None:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii")
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    if codec.startswith(("utf-8", "utf-16", "utf-32")):
        return None  # bytes that are not UTF-8 are not what the label says; a BOM would have told
    return label, "sloppy-windows-1252" if codec in _WINDOWS_1252_LABELS else codec


def _depth(tree: Any) -> int:
    """Return how many levels of elements the tree has, without recursion."""
    deepest = 0
    pending = [(tree, 1)]
    while pending:
        element, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in element)
    return deepest
