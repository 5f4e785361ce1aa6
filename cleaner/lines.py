"""Map offsets of the normalised text back to line and column in the original file.

Normalisation keeps the order of lines and changes little inside one (spaces, quotes, repaired
characters); it drops blank lines and may re-lay paragraphs. So each non-empty normalised line is
matched, in order, to the next raw line with the same canonical form; a line that normalisation
changed beyond recognition (mojibake repaired) takes the next non-empty raw line. JSONL records
point at their own line; HTML pages at the first line of the source that holds the text.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from .document import Document
from .minhash import canonical
from .remote import is_url, open_url

_SEARCH_WINDOW = 200


@dataclass(frozen=True)
class LineMap:
    """For each line of a document's normalised text: its 1-based line and indentation in the file."""

    starts: list[int]
    lines: list[int]
    indents: list[int]

    def locate(self, offset: int) -> tuple[int, int]:
        """Return (line, column), both 1-based, of a normalised-text offset in the original file."""
        if not self.starts:
            return 1, 1
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return self.lines[index], self.indents[index] + (offset - self.starts[index]) + 1


def line_map(doc: Document) -> LineMap:
    """Build the map for one document from its original file (line 1 when it cannot be read)."""
    starts, texts = _normalised_lines(doc.text)
    if doc.source.record is not None:
        return LineMap(starts, [doc.source.record] * len(starts), [0] * len(starts))
    raw = _read(doc)
    if raw is None:
        return LineMap(starts, [1] * len(starts), [0] * len(starts))
    raw_lines = raw.split("\n")
    if doc.source.format == "html":
        lines = [_find_in_html(raw_lines, text) for text in texts]
        return LineMap(starts, lines, [0] * len(starts))
    lines, indents = _align(texts, raw_lines)
    return LineMap(starts, lines, indents)


def _normalised_lines(text: str) -> tuple[list[int], list[str]]:
    starts, texts, position = [], [], 0
    for line in text.split("\n"):
        if line:
            starts.append(position)
            texts.append(line)
        position += len(line) + 1
    return starts, texts


def _read(doc: Document) -> str | None:
    path = doc.origin
    if not path:
        return None
    try:
        if is_url(path):
            with open_url(path) as remote:
                data = remote.read()
        else:
            data = Path(path).read_bytes()
    except OSError:
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _align(texts: list[str], raw_lines: list[str]) -> tuple[list[int], list[int]]:
    keys = [canonical(line) for line in raw_lines]
    lines, indents, pointer = [], [], 0
    for text in texts:
        key = canonical(text)
        found = next(
            (j for j in range(pointer, min(len(raw_lines), pointer + _SEARCH_WINDOW)) if keys[j] and keys[j] == key),
            None,
        )
        if found is None:
            found = next((j for j in range(pointer, len(raw_lines)) if raw_lines[j].strip()), max(0, len(raw_lines) - 1))
        raw = raw_lines[found] if raw_lines else ""
        lines.append(found + 1)
        indents.append(len(raw) - len(raw.lstrip()))
        pointer = min(found + 1, len(raw_lines))
    return lines, indents


def _find_in_html(raw_lines: list[str], text: str) -> int:
    probe = text[:40]
    for number, line in enumerate(raw_lines, start=1):
        if probe and probe in line:
            return number
    return 1
