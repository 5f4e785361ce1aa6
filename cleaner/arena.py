"""Append-only blobs in a temporary file, for what a run must keep but seldom reads.

A run keeps its documents between the per-document stages and write (`cleaner/store.py`), and
dedup every kept copy's shingle hashes and text (~3 KB a document, ~1 KB a paragraph) to verify
candidates exactly; each is read back only when its turn comes. In memory they grew with the
corpus (GBs at 100k documents); here memory holds where each blob starts (8 bytes), and a blob
is read back with one positioned read. The data then sits in the OS page cache, which the OS
gives back under pressure, not in the process.

The file is made in the system temporary folder (`TMPDIR`) and unlinked at once, so nothing is
left behind, even by a killed run.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from array import array
from contextlib import contextmanager
from typing import IO, Iterator

import numpy as np

from .errors import CleanerError

# Blobs gathered before one write to the file.
BUFFER_BYTES = 8 << 20


class ArenaError(CleanerError):
    """The temporary folder cannot take a run's documents and kept copies (full, or not writable)."""


class Arena:
    """Blobs numbered from 0 in the order they were appended; `arena[n]` reads one back."""

    def __init__(self, buffer_bytes: int | None = None, folder: str | None = None) -> None:
        self.buffer_bytes = BUFFER_BYTES if buffer_bytes is None else buffer_bytes
        self._folder = folder
        self._buffer = bytearray()
        self._written = 0  # bytes in the file; blobs from here on are in the buffer
        self._starts = array("q", [0])
        self._file: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self._starts) - 1

    @property
    def nbytes(self) -> int:
        """Bytes appended so far (in the file and the buffer)."""
        return self._starts[-1]

    def append(self, blob: bytes) -> int:
        """Store a blob; return its number."""
        starts, buffer = self._starts, self._buffer
        starts.append(starts[-1] + len(blob))
        buffer += blob
        if len(buffer) >= self.buffer_bytes:
            self._flush()
        return len(starts) - 2

    def __getitem__(self, number: int) -> bytes:
        return self.prefix(number, self._starts[number + 1] - self._starts[number])

    def prefix(self, number: int, size: int) -> bytes:
        """The first `size` bytes of a blob (all of it: `arena[number]`)."""
        start = self._starts[number]
        if start >= self._written:
            return bytes(self._buffer[start - self._written : start - self._written + size])
        assert self._file is not None
        return read_at(self._file, start, size)

    @contextmanager
    def located(self) -> Iterator[tuple[int, int, int, int]]:
        """Where compiled code reads the blobs in place (`kc_shared` in fastminhash.py): (file
        descriptor, -1 before the first write; bytes in the file; address of the blobs after
        them; address of the blobs' starts, 8 bytes each). Valid inside the block, which must
        not append."""
        buffer = np.frombuffer(self._buffer, dtype=np.uint8) if self._buffer else None
        try:
            yield (
                -1 if self._file is None else self._file.fileno(),
                self._written,
                0 if buffer is None else buffer.ctypes.data,
                self._starts.buffer_info()[0],
            )
        finally:
            del buffer  # let the buffer grow again

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = bytearray()

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _flush(self) -> None:
        self._file = append_to(self._file, self._buffer, self._folder)
        self._file.flush()  # read back with os.pread, past Python's buffer
        self._written += len(self._buffer)
        self._buffer = bytearray()


def temporary_file(folder: str | None = None) -> IO[bytes]:
    """An unlinked temporary file in `folder` (default: TMPDIR); OSError when it cannot be made."""
    return tempfile.TemporaryFile(prefix="cleaner-", dir=folder)


def append_to(handle: IO[bytes] | None, data: bytes | bytearray | memoryview, folder: str | None = None) -> IO[bytes]:
    """Append `data` to a temporary file, made in `folder` when `handle` is None; return it."""
    try:
        if handle is None:
            handle = temporary_file(folder)
        handle.write(data)
    except OSError as error:
        raise no_room(error, folder) from error
    return handle


_SEEK_LOCK = threading.Lock()  # only where os.pread is missing (seek + read)


def read_at(handle: IO[bytes], start: int, size: int) -> bytes:
    """`size` bytes of a temporary file from `start`, in one positioned read (past Python's buffer:
    flush what was written first)."""
    if hasattr(os, "pread"):
        data = os.pread(handle.fileno(), size, start)
    else:  # pragma: no cover - Windows
        with _SEEK_LOCK:
            handle.seek(start)
            data = handle.read(size)
            handle.seek(0, os.SEEK_END)
    if len(data) != size:
        raise ArenaError(f"the run's temporary file was cut short ({len(data)} of {size} bytes at {start})")
    return data


def no_room(error: OSError, folder: str | None = None) -> ArenaError:
    """The error to raise when a run's temporary data cannot be written."""
    where = folder or tempfile.gettempdir()
    return ArenaError(
        f"cannot write a run's documents and dedup's kept copies to a temporary file in {where!r} "
        f"({error.strerror or error}); they need up to ~45 KB a document: free space there or point TMPDIR at a larger disk"
    )


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks this large or larger are mapped on their own and given back to the OS when freed.
MMAP_THRESHOLD_BYTES = 1 << 20


@functools.cache
def bound_heap() -> bool:
    """Have glibc give large blocks back to the OS when they are freed (True where it could).

    glibc maps a block of 128 KB or more on its own, but raises that limit, up to 32 MB, each time
    such a block is freed; after that, the numpy arrays of dedup's chunks and shuffle sorts come
    from the heap, whose freed space the process keeps. A fixed 1 MB limit keeps them mapped: at
    40k documents a run's peak fell from 0.80 to 0.61 GB (bench/README-dedup.md). Elsewhere
    (macOS, musl, Windows) this does nothing.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD_BYTES))
