"""Read JSON Lines files (plain or gzip): one document per line, each line's failure its own."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from typing import IO, TYPE_CHECKING, Any, Iterator

from ..config import Settings
from ..document import Document, Reason, Source

if TYPE_CHECKING:
    from . import InputFile

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_records(file: InputFile, settings: Settings) -> Iterator[Document]:
    """Yield one document per non-blank line; a bad line yields an error record and reading goes on."""
    number = 0
    try:
        with _open(file) as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield _record(file, number, line, settings)
    except OSError as error:
        yield _failed(file, number + 1, b"", "unreadable", error.strerror or str(error))
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        yield _failed(file, number + 1, b"", "truncated", f"compressed stream ends early after line {number}: {error}")


def _open(file: InputFile) -> IO[bytes]:
    if file.path.name.lower().endswith(".gz"):
        return gzip.open(file.path, "rb")
    return open(file.path, "rb")


def _record(file: InputFile, number: int, line: bytes, settings: Settings) -> Document:
    try:
        value: Any = json.loads(line)
    except UnicodeDecodeError as error:
        return _failed(file, number, line, "invalid-utf8", f"line {number}: byte {error.start} is not UTF-8")
    except json.JSONDecodeError as error:
        return _failed(file, number, line, "malformed-json", f"line {number}, column {error.colno}: {error.msg}")
    if not isinstance(value, dict):
        return _failed(file, number, line, "not-an-object", f"line {number} is a JSON {type(value).__name__}, not an object")
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
    return Document(id=doc_id, source=_source(file, number, line), text=text, meta=meta, origin=f"{file.path}:{number}")


def _scrub(value: Any) -> Any:
    """Replace lone surrogates (legal in JSON escapes, not in UTF-8) so the record can be written."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _source(file: InputFile, number: int, line: bytes) -> Source:
    return Source(file.relpath, "jsonl", hashlib.sha256(line).hexdigest(), len(line), record=number)


def _failed(file: InputFile, number: int, line: bytes, reason: str, detail: str) -> Document:
    reason_record = Reason("ingest", None, reason, detail)
    return Document.failed(f"{file.relpath}#{number}", _source(file, number, line), reason_record, origin=f"{file.path}:{number}")
