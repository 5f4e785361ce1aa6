"""Find input files, read them into `Document`s, and give every document a stable id.

Reading never raises for a bad file: it yields an `error` document with the reason instead, so
one broken file cannot stop a run over a million good ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from ..config import Settings
from ..document import Document, Reason, Source
from ..errors import DocumentError, InputError
from . import html, jsonl, text

FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
    ".json.gz": "jsonl",
}


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is, its path relative to its input root, its format and id."""

    path: Path
    relpath: str
    format: str
    id: str


@dataclass(frozen=True)
class Discovery:
    """The files a run will read, and the ones it passed over (with why)."""

    files: list[InputFile]
    skipped: list[tuple[str, str]]


def format_of(name: str) -> tuple[str, str] | None:
    """Return (format, extension) for a file name, or None when cleaner does not read it.

    >>> format_of("a/b.JSONL.gz"), format_of("photo.jpg")
    (('jsonl', '.JSONL.gz'), None)
    """
    lower = name.lower()
    for extension in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(extension) and len(lower) > len(extension):
            return FORMATS[extension], name[len(name) - len(extension) :]
    return None


def discover(inputs: Sequence[Path], exclude: Sequence[Path] = ()) -> Discovery:
    """List the files under the inputs (directories recursively), in a stable order, with ids.

    Hidden files and folders and the excluded paths (the output folder) are passed over; files
    named directly are read as text when their extension is unknown.
    """
    excluded = [path.resolve() for path in exclude]
    found: list[tuple[str, Path, str]] = []
    skipped: list[tuple[str, str]] = []
    for root in inputs:
        if not root.exists() and not root.is_symlink():
            raise InputError(f"input {str(root)!r} does not exist; pass a file or a folder of documents")
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                relpath = path.relative_to(root).as_posix()
                if _is_hidden(relpath) or _is_excluded(path, excluded) or path.is_dir():
                    continue
                known = format_of(path.name)
                if known is None:
                    skipped.append((relpath, "unsupported file type"))
                    continue
                found.append((relpath, path, known[0]))
        else:
            known = format_of(root.name)
            found.append((root.name, root, known[0] if known else "txt"))
    return Discovery(files=_assign_ids(found), skipped=sorted(skipped))


def _is_hidden(relpath: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(relpath).parts)


def _is_excluded(path: Path, excluded: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == other or other in resolved.parents for other in excluded)


def _assign_ids(found: list[tuple[str, Path, str]]) -> list[InputFile]:
    """Id = path relative to its root without the extension; with it where two would collide."""

    def stem(relpath: str) -> str:
        known = format_of(relpath)
        return relpath[: len(relpath) - len(known[1])] if known else relpath

    counts: dict[str, int] = {}
    for relpath, _, _ in found:
        counts[stem(relpath)] = counts.get(stem(relpath), 0) + 1
    files = []
    taken: set[str] = set()
    for relpath, path, fmt in sorted(found, key=lambda f: (f[0], str(f[1]))):
        candidate = stem(relpath) if counts[stem(relpath)] == 1 else relpath
        unique, number = candidate, 1
        while unique in taken:
            number += 1
            unique = f"{candidate}~{number}"
        taken.add(unique)
        files.append(InputFile(path=path, relpath=relpath, format=fmt, id=unique))
    return files


def read_file(file: InputFile, settings: Settings) -> Iterator[Document]:
    """Yield the documents of one input file; a file that cannot be read yields one error record."""
    if file.format == "jsonl":
        yield from jsonl.read_records(file, settings)
        return
    try:
        data = file.path.read_bytes()
    except OSError as error:
        yield _failed(file, b"", "unreadable", error.strerror or str(error))
        return
    try:
        if file.format == "html":
            body, meta = html.extract(data)
        else:
            body, meta = text.decode(data), {}
    except DocumentError as error:
        yield _failed(file, data, error.reason, error.detail)
        return
    source = Source(file.relpath, file.format, sha256(data), len(data))
    yield Document(id=file.id, source=source, text=body, meta=meta, origin=str(file.path))


def _failed(file: InputFile, data: bytes, reason: str, detail: str) -> Document:
    source = Source(file.relpath, file.format, sha256(data), len(data))
    return Document.failed(file.id, source, Reason("ingest", None, reason, detail), origin=str(file.path))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
