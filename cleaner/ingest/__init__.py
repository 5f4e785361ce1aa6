"""Find input files, read them into `Document`s, and give every document a stable id.

Reading never raises for a bad file: it yields an `error` document with the reason instead, so
one broken file cannot stop a run over a million good ones.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

from ..config import Settings
from ..document import Document, Reason, Source
from ..errors import DocumentError, InputError
from ..remote import is_url
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
# A file is read whole into memory (HTML must be); bigger ones are refused by their size, before
# reading. JSON Lines files are streamed, so for them the limit applies to each line.
MAX_FILE_BYTES = Settings().max_file_size  # the default limit, for messages and tests
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """A run of whole lines of a JSON Lines file: bytes [start, end), after `lines` lines."""

    start: int
    end: int
    lines: int


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is, its path relative to its input root, its format and id.

    `path` is a local path, or an fsspec URL (a str, read through cleaner/remote.py), whose
    `size` comes from the listing. With a `part`, only those lines of the file (`split_large`).
    """

    path: Path | str
    relpath: str
    format: str
    id: str
    size: int | None = None
    part: Part | None = None

    @property
    def location(self) -> str:
        """Where the file is, for messages and provenance: its path or its URL."""
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name if isinstance(self.path, Path) else self.path.rstrip("/").rsplit("/", 1)[-1]

    def open(self) -> BinaryIO:
        """Open the file (or its part) for reading in binary; any failure to reach it is an OSError."""
        if isinstance(self.path, str):
            from ..remote import open_url

            return open_url(self.path)
        if self.part is not None:
            return io.BufferedReader(_Range(self.path, self.part.start, self.part.end))
        return open(self.path, "rb")

    def stat_size(self) -> int:
        """The file's (or its part's) size in bytes (0 when it cannot be known), without reading it."""
        if self.part is not None:
            return self.part.end - self.part.start
        if self.size is not None:
            return self.size
        try:
            return Path(self.path).stat().st_size
        except OSError:
            return 0


class _Range(io.RawIOBase):
    """Bytes [start, end) of a local file, read as a file of their own."""

    def __init__(self, path: Path | str, start: int, end: int) -> None:
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        count = self._file.readinto(view) or 0
        self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


# A plain JSON Lines file larger than this is read as several parts, each a work unit of its own,
# so one big file uses every worker and no worker holds all of its documents.
PART_BYTES = 16 << 20


def split_large(files: Sequence[InputFile], part_bytes: int | None = None) -> list[InputFile]:
    """The work units of a run: each file, but a local plain JSON Lines file over `part_bytes`
    (default PART_BYTES) as parts of whole lines, about that size each.

    Its records keep the ids, line numbers and provenance the whole file gives them (each part
    knows how many lines come before it), so the output does not change. A file whose first
    bytes are not JSON Lines (binary, UTF-16) stays whole, to be one error record; so does one
    that cannot be read now.
    """
    limit = PART_BYTES if part_bytes is None else part_bytes
    units: list[InputFile] = []
    for file in files:
        size = file.stat_size() if isinstance(file.path, Path) else 0
        if file.format != "jsonl" or file.name.lower().endswith(".gz") or size <= limit:
            units.append(file)
            continue
        try:
            units.extend(_parts(file, size, limit))
        except OSError:
            units.append(file)  # reading it whole says what is wrong
    return units


def _parts(file: InputFile, size: int, limit: int) -> list[InputFile]:
    """Cut a file at the first line start after every `limit` bytes, counting the lines before each cut."""
    with open(file.path, "rb") as handle:
        if jsonl.sniff(handle.read(jsonl.SNIFF_BYTES)) is not None:
            return [file]
        cuts = [0]
        while cuts[-1] + limit < size:
            handle.seek(cuts[-1] + limit - 1)  # from the byte before: a cut right after a newline stays there
            while (chunk := handle.read(_CHUNK)) and (newline := chunk.find(b"\n")) < 0:
                pass
            if not chunk:
                break
            cut = handle.tell() - len(chunk) + newline + 1
            if cut >= size:
                break
            cuts.append(cut)
        bounds = cuts + [size]
        parts, lines = [], 0
        handle.seek(0)
        for start, end in zip(bounds, bounds[1:]):
            parts.append(replace(file, part=Part(start, end, lines)))
            left = end - start
            while left > 0 and (chunk := handle.read(min(_CHUNK, left))):
                lines += chunk.count(b"\n")
                left -= len(chunk)
    return parts


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


def discover(inputs: Sequence[Path | str], exclude: Sequence[Path | str] = (), follow_symlinks: bool = False) -> Discovery:
    """List the files under the inputs (directories recursively), in a stable order, with ids.

    Hidden files and folders and the excluded paths (the output folder) are passed over; files
    named directly are read as text when their extension is unknown. Symbolic links that lead out
    of their input root are skipped with a reason unless `follow_symlinks`; links to folders
    inside the root always are (their files are read once, under their own path). An input that
    is an fsspec URL (a str: `s3://bucket/news/`) is listed by cleaner/remote.py, with the
    relative paths, so the ids, of a local copy.
    """
    excluded = [Path(path).resolve() for path in exclude if not is_url(path)]
    found: list[tuple[str, Path | str, str, int | None]] = []
    skipped: list[tuple[str, str]] = []
    for given in inputs:
        if is_url(given):
            from ..remote import list_url

            listed, passed_over = list_url(str(given), exclude)
            found.extend(listed)
            skipped.extend(passed_over)
            continue
        root = Path(given)
        if not root.exists() and not root.is_symlink():
            raise InputError(f"input {str(root)!r} does not exist; pass a file or a folder of documents")
        if root.is_dir():
            for relpath, path, problem in walk(root, excluded, follow_symlinks):
                known = format_of(path.name) if problem is None else None
                if problem is None and known is None:
                    problem = "unsupported file type"
                if problem is not None:
                    skipped.append((relpath, problem))
                    continue
                found.append((relpath, path, known[0], None))
        else:
            known = format_of(root.name)
            found.append((printable_name(root.name), root, known[0] if known else "txt", None))
    return Discovery(files=_assign_ids(found), skipped=sorted(skipped))


def walk(root: Path, excluded: Sequence[Path] = (), follow_symlinks: bool = False) -> Iterator[tuple[str, Path, str | None]]:
    """Yield (relpath, path, why it is skipped or None) for every file under `root`, in sorted order.

    Without recursion (any depth of folders), without descending twice into one folder (a
    symbolic link loop), and without opening anything: a FIFO is reported, never read.
    """
    root_real = root.resolve()
    visited = {root_real}
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError as error:
            if not prefix:
                raise InputError(f"input folder {str(root)!r} cannot be read: {error.strerror}; check its permissions") from None
            yield prefix.rstrip("/"), folder, f"unreadable folder: {error.strerror or error}"
            continue
        subfolders = []
        for name in names:
            path, relpath = folder / name, prefix + printable_name(name)
            if name.startswith(".") or _is_excluded(path, excluded):
                continue
            mode, problem = _target_mode(path, root_real, follow_symlinks)
            if problem is not None:
                yield relpath, path, problem
            elif stat.S_ISDIR(mode):
                real = path.resolve()
                if real in visited:
                    yield relpath, path, "symbolic link to a folder already read (a loop or a second way in)"
                else:
                    visited.add(real)
                    subfolders.append((path, relpath + "/"))
            elif stat.S_ISREG(mode):
                yield relpath, path, None
            else:
                yield relpath, path, "not a regular file (a FIFO, socket or device)"
        pending.extend(reversed(subfolders))


def _target_mode(path: Path, root_real: Path, follow_symlinks: bool) -> tuple[int, str | None]:
    """Return the file mode of what `path` leads to, or why it is skipped (a link not followed)."""
    try:
        mode = path.lstat().st_mode
    except OSError as error:  # gone since its folder was listed
        return 0, f"cannot be read: {error.strerror or error}"
    if not stat.S_ISLNK(mode):
        return mode, None
    try:
        real = path.resolve(strict=True)
        mode = real.stat().st_mode
    except RuntimeError:
        return 0, "symbolic link loop"
    except OSError:
        return 0, "broken symbolic link"
    inside = real == root_real or root_real in real.parents
    if inside and stat.S_ISDIR(mode):
        return mode, "symbolic link to a folder inside the input root (its files are read under their own path)"
    if not inside and not follow_symlinks:
        return mode, "symbolic link to outside the input root (not followed without --follow-symlinks)"
    return mode, None


def printable_name(name: str) -> str:
    """Spell the bytes of a file name that are not UTF-8 as %XX, so ids and paths are valid text.

    Python decodes such bytes to lone surrogates, which cannot be written as UTF-8 JSON.

    >>> printable_name(os.fsdecode(b"caf\\xe9 au\\nlait.txt"))
    'caf%E9 au\\nlait.txt'
    """
    return _UNDECODABLE.sub(lambda match: f"%{ord(match.group()) - 0xDC00:02X}", name)


def _is_excluded(path: Path, excluded: Sequence[Path]) -> bool:
    if not excluded:
        return False
    resolved = Path(os.path.realpath(path))  # unlike Path.resolve, never raises on a link loop
    return any(resolved == other or other in resolved.parents for other in excluded)


def _assign_ids(found: list[tuple[str, Path | str, str, int | None]]) -> list[InputFile]:
    """Id = path relative to its root without the extension; with it where two would collide."""

    def stem(relpath: str) -> str:
        known = format_of(relpath)
        return relpath[: len(relpath) - len(known[1])] if known else relpath

    counts: dict[str, int] = {}
    for relpath, *_ in found:
        counts[stem(relpath)] = counts.get(stem(relpath), 0) + 1
    files = []
    taken: set[str] = set()
    for relpath, path, fmt, size in sorted(found, key=lambda f: (f[0], str(f[1]))):
        candidate = stem(relpath) if counts[stem(relpath)] == 1 else relpath
        unique, number = candidate, 1
        while unique in taken:
            number += 1
            unique = f"{candidate}~{number}"
        taken.add(unique)
        files.append(InputFile(path=path, relpath=relpath, format=fmt, id=unique, size=size))
    return files


def read_file(file: InputFile, settings: Settings) -> Iterator[Document]:
    """Yield the documents of one input file; a file that cannot be read yields one error record.

    A text or HTML file over `settings.max_file_size` bytes is refused by its size before it is
    read; a JSON Lines file is streamed and each of its lines is held to that size. Bytes that are
    not UTF-8 are an error unless `settings.encoding_fallback` names the encoding to read them
    with (recorded as NM010).
    """
    max_bytes = settings.max_file_size
    fallback_encoding = settings.encoding_fallback or None
    if file.format == "jsonl":
        yield from jsonl.read_records(file, settings, max_bytes, fallback_encoding)
        return
    try:
        with file.open() as handle:
            data = read_limited(handle, max_bytes)
    except FileTooLarge as error:
        source = Source(file.relpath, file.format, error.sha256, error.size)
        yield Document.failed(file.id, source, Reason("ingest", None, error.reason, error.detail), origin=file.location)
        return
    except OSError as error:
        yield _failed(file, b"", "unreadable", error.strerror or str(error))
        return
    try:
        if file.format == "html":
            page = html.read_page(data, fallback_encoding)
            body, meta, fixes = page.text, page.meta, page.fixes
        else:
            decoded = text.decode(data, fallback_encoding)
            body, meta, fixes = decoded.text, {}, decoded.fixes
    except DocumentError as error:
        yield _failed(file, data, error.reason, error.detail)
        return
    source = Source(file.relpath, file.format, sha256(data), len(data))
    yield Document(id=file.id, source=source, text=body, meta=meta, fixes=list(fixes), origin=file.location)


class FileTooLarge(DocumentError):
    """A file over the size limit; it carries the size and hash of its bytes for the record."""

    def __init__(self, size: int, digest: str, max_bytes: int) -> None:
        super().__init__(
            "too-large",
            f"the file is {size:,} bytes, over the limit of {max_bytes:,} bytes; "
            "raise max-file-size to read it, or split it (JSON Lines files are streamed)",
        )
        self.size = size
        self.sha256 = digest


def read_limited(handle: BinaryIO, max_bytes: int) -> bytes:
    """Read a whole file, refusing one over `max_bytes` by its size before reading it into memory.

    A refused file is still hashed, in chunks, so its record identifies the bytes it did not read.
    """
    size = _known_size(handle)
    start = b""
    if size is None or size <= max_bytes:
        start = handle.read(max_bytes + 1)
        if len(start) <= max_bytes:
            return start
    # over the limit (it may have grown after its size was taken): hash on from what was read
    digest, size = hash_stream(handle, start)
    raise FileTooLarge(size, digest, max_bytes)


def _known_size(handle: BinaryIO) -> int | None:
    """The size of an open file without reading it: from the OS, else what a store reported."""
    try:
        return os.fstat(handle.fileno()).st_size
    except (OSError, ValueError):  # not an OS file (a URL's stream: io.UnsupportedOperation)
        return getattr(handle, "size", None)


def hash_stream(handle: BinaryIO, start: bytes = b"") -> tuple[str, int]:
    """Return the sha256 and the size of `start` and what is left to read, in bounded chunks."""
    hasher = hashlib.sha256(start)
    size = len(start)
    while chunk := handle.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def _failed(file: InputFile, data: bytes, reason: str, detail: str) -> Document:
    source = Source(file.relpath, file.format, sha256(data), len(data))
    return Document.failed(file.id, source, Reason("ingest", None, reason, detail), origin=file.location)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
