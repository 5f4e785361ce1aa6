"""Read JSON Lines files (plain or gzip): one document per line, each line's failure its own.

A file is streamed line by line, each line held to a size limit, so memory stays bounded by the
longest accepted line whatever the size of the file (or of what a .gz expands to).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import math
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Iterator

from ..config import Settings
from ..document import Document, Fix, Reason, Source
from ..errors import DocumentError
from .text import decode_utf8, looks_binary

if TYPE_CHECKING:
    from . import InputFile

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SNIFF_BYTES = 8192
_CHUNK = 1 << 20
# Deeper values are refused: meta is walked, pickled and written recursively further on.
MAX_NESTING = 100


def read_records(
    file: InputFile, settings: Settings, max_bytes: int, fallback_encoding: str | None = None
) -> Iterator[Document]:
    """Yield one document per non-blank line; a bad line yields an error record and reading goes on.

    A file with no record at all, a binary or UTF-16 file, and a gzip stream that is cut short or
    corrupt each yield one error record for the file (after the records read before the damage).
    """
    part = file.part
    number = part.lines if part else 0
    offset = part.start if part else 0
    records = 0
    damaged = "; the records before may be damaged too"
    try:
        with _open(file) as stream:
            problem = sniff(stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]) if part is None else None  # split_large sniffed the file
            if problem is not None:
                yield _failed(file, None, b"", *problem)
                return
            for number, line in _lines(stream, max_bytes, first=number):
                if isinstance(line, Oversized):
                    records += 1
                    yield _oversized(file, number, line, max_bytes)
                    offset += line.size
                    continue
                if line.strip():
                    records += 1
                    yield _record(file, number, offset, line, settings, fallback_encoding)
                offset += len(line)
    except gzip.BadGzipFile as error:
        yield _failed(file, number + 1, b"", "bad-gzip", f"the gzip stream is damaged after line {number} ({error}){damaged}")
        return
    except OSError as error:
        yield _failed(file, number + 1, b"", "unreadable", error.strerror or str(error))
        return
    except EOFError as error:
        yield _failed(file, number + 1, b"", "truncated", f"compressed stream ends early after line {number}: {error}")
        return
    except zlib.error as error:
        yield _failed(file, number + 1, b"", "bad-gzip", f"compressed data is corrupt after line {number} ({error}){damaged}")
        return
    if records == 0 and part is None:  # a part of blank lines is no error: the file has records elsewhere
        yield _failed(file, None, b"", "empty", "the file has no records")


@contextmanager
def _open(file: InputFile) -> Iterator[IO[bytes]]:
    with file.open() as raw:
        if not file.name.lower().endswith(".gz"):
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            yield stream


def sniff(head: bytes) -> tuple[str, str] | None:
    """Refuse a whole file that cannot be JSON Lines by its first bytes: UTF-16, or binary data."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "invalid-utf8", "the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-encode it as UTF-8"
    if looks_binary(head):
        return "binary", "the file holds binary data (NUL or control bytes), not JSON Lines"
    return None


@dataclass(frozen=True)
class Oversized:
    """A line over the size limit, passed over unread but hashed, so its record identifies it."""

    sha256: str
    size: int


def _lines(stream: IO[bytes], max_bytes: int, first: int = 0) -> Iterator[tuple[int, bytes | Oversized]]:
    """Yield (line number, line), holding no more than `max_bytes` of a line in memory; the
    stream's first line is line `first` + 1."""
    number = first
    while line := stream.readline(max_bytes + 1):
        number += 1
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield number, line
            continue
        hasher = hashlib.sha256(line)
        size = len(line)
        while not line.endswith(b"\n") and (line := stream.readline(_CHUNK)):
            hasher.update(line)
            size += len(line)
        yield number, Oversized(hasher.hexdigest(), size)


def _oversized(file: InputFile, number: int, line: Oversized, max_bytes: int) -> Document:
    detail = f"line {number} is {line.size:,} bytes, over the limit of {max_bytes:,} bytes; raise max-file-size to read it"
    source = Source(file.relpath, "jsonl", line.sha256, line.size, record=number)
    reason = Reason("ingest", None, "too-large", detail)
    return Document.failed(f"{file.relpath}#{number}", source, reason, origin=f"{file.location}:{number}")


def _record(
    file: InputFile, number: int, offset: int, line: bytes, settings: Settings, fallback_encoding: str | None
) -> Document:
    try:
        value, fixes = parse_line(line, number, offset, fallback_encoding)
    except DocumentError as error:
        return _failed(file, number, line, error.reason, error.detail)
    text = value.get(settings.text_field)
    if not isinstance(text, str):
        fields = ", ".join(sorted(k for k, v in value.items() if isinstance(v, str))) or "none"
        return _failed(
            file,
            number,
            line,
            "missing-text-field",
            f"line {number} has no string field {settings.text_field!r} (string fields: {fields}); "
            "choose one with --text-field",
        )
    raw_id = value.get(settings.id_field)
    doc_id = _scrub(str(raw_id)) if isinstance(raw_id, (str, int)) and str(raw_id) else f"{file.relpath}#{number}"
    meta = {key: _scrub(item) for key, item in value.items() if key not in (settings.text_field, settings.id_field)}
    source = _source(file, number, line)
    return Document(id=doc_id, source=source, text=text, meta=meta, fixes=fixes, origin=f"{file.location}:{number}")


def parse_line(
    line: bytes, number: int = 1, offset: int = 0, fallback_encoding: str | None = None
) -> tuple[dict[str, Any], list[Fix]]:
    """Parse one line of JSON Lines into an object, or raise DocumentError saying what is wrong.

    Strict where Python's json is lenient (NaN, Infinity, numbers no float can hold), and bounded
    where it is not (nesting), so every accepted record can be written back as valid JSON.

    >>> parse_line(b'{"text": "ok", "score": NaN}')
    Traceback (most recent call last):
    ...
    cleaner.errors.DocumentError: malformed-json: line 1: NaN is not a JSON value (JSON has no NaN or Infinity)
    """
    decoded = decode_utf8(line, fallback_encoding, offset=offset, line=number)
    try:
        value: Any = json.loads(decoded.text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise DocumentError("malformed-json", f"line {number}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise DocumentError("json-too-deep", f"line {number} nests arrays or objects too deeply to read") from None
    except ValueError as error:  # NaN, Infinity, an integer of more than 4300 digits
        raise DocumentError("malformed-json", f"line {number}: {error}") from None
    if not isinstance(value, dict):
        raise DocumentError("not-an-object", f"line {number} is a JSON {type(value).__name__}, not an object")
    if nesting(value) > MAX_NESTING:
        raise DocumentError("json-too-deep", f"line {number} nests arrays or objects over {MAX_NESTING} levels deep")
    return value, list(decoded.fixes)


def nesting(value: Any) -> int:
    """Return how deeply arrays and objects nest in a JSON value, without recursion.

    >>> nesting({"a": [1, {"b": []}]}), nesting("text")
    (4, 0)
    """
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"the number {literal[:40]} is too large for a 64-bit float")
    return number


def _scrub(value: Any) -> Any:
    """Replace lone surrogates (legal in JSON escapes, not in UTF-8) so the record can be written."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _source(file: InputFile, number: int | None, line: bytes) -> Source:
    return Source(file.relpath, "jsonl", hashlib.sha256(line).hexdigest(), len(line), record=number)


def _failed(file: InputFile, number: int | None, line: bytes, reason: str, detail: str) -> Document:
    """The error record of one line, or of the whole file when `number` is None."""
    doc_id = file.relpath if number is None else f"{file.relpath}#{number}"
    origin = file.location if number is None else f"{file.location}:{number}"
    return Document.failed(doc_id, _source(file, number, line), Reason("ingest", None, reason, detail), origin=origin)
