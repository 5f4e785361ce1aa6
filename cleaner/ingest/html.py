"""Extract the main text and metadata of an HTML page with trafilatura."""

from __future__ import annotations

import logging
from typing import Any

import trafilatura

from ..errors import DocumentError
from .text import looks_binary

# trafilatura and htmldate log a warning for every odd page; the run reports errors itself.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

META_FIELDS = ("title", "author", "date", "url", "sitename")


def extract(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return the main text of a page (one paragraph per line) and its title, date and url."""
    if not data.strip():
        raise DocumentError("empty", "the file has no text")
    if looks_binary(data):
        raise DocumentError("binary", "the file holds binary data (NUL or control bytes), not HTML")
    try:
        result = trafilatura.bare_extraction(data, include_comments=False, with_metadata=True)
    except Exception as error:  # trafilatura raises many types on broken markup
        raise DocumentError("html-unparsable", f"{type(error).__name__}: {error}") from None
    if result is None or not (result.text or "").strip():
        raise DocumentError("no-main-text", "trafilatura found no main text in the page")
    meta = {name: getattr(result, name) for name in META_FIELDS if getattr(result, name, None)}
    return result.text, meta
