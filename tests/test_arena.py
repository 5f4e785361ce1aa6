from __future__ import annotations

import platform
import random
import sys

import numpy as np
import pytest

from cleaner import arena as arena_module
from cleaner import dedup
from cleaner.arena import Arena, ArenaError
from cleaner.config import Settings
from cleaner.dedup import Item, Kept, KeptCopies, deduplicate
from test_dedup import _edited_paragraphs, doc, story
from conftest import BACKGROUND, EDITED


def test_blobs_read_back_from_the_file_and_the_buffer():
    rng = random.Random(4)
    blobs = [rng.randbytes(rng.choice([0, 1, 7, 100, 3000])) for _ in range(500)]
    with Arena(buffer_bytes=1000) as arena:
        for number, blob in enumerate(blobs):
            assert arena.append(blob) == number
            assert arena[number] == blob  # in the buffer, or written out just now
        assert arena._written > 0 and arena._buffer  # some in the file, the last ones not yet
        assert [arena[number] for number in range(len(blobs))] == blobs
        assert len(arena) == len(blobs) and arena.nbytes == sum(map(len, blobs))


def test_a_temporary_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    arena = Arena(buffer_bytes=10, folder=str(tmp_path / "missing"))
    with pytest.raises(ArenaError, match="missing.*TMPDIR"):
        arena.append(b"x" * 20)


def test_kept_copies_come_back_whole_after_leaving_memory():
    copies = KeptCopies(Arena(buffer_bytes=64), recent=1)
    kept = [
        Kept(Item("a", None, "Café au lait, naïve \udcff façade", "fr"), np.array([1, 5, 2**32 - 1], dtype=np.uint32)),
        Kept(Item("b/c", 0, "", None), np.array([], dtype=np.uint32)),
        Kept(Item("d", 12, "plain text " * 20, "en"), np.arange(300, dtype=np.uint32) * 7),
    ]
    for copy in kept:
        copies.append(copy)
    for _ in range(2):
        for number, copy in enumerate(kept):
            back = copies[number]
            assert back.item == copy.item
            assert back.hashes.dtype == np.uint32 and np.array_equal(back.hashes, copy.hashes)
    assert len(copies) == 3


def test_dedup_decides_the_same_when_every_kept_copy_is_read_from_disk(monkeypatch):
    """Copies written out at once and never held (buffer of 1 byte, no recent copies, the facts
    of two at most) give the clusters and records of copies that never left memory."""

    def run() -> tuple[list, list, list]:
        docs = [doc(f"d{n:02}", story(n % 9), BACKGROUND if n % 3 else EDITED, story(100 + n), story(n % 5)) for n in range(40)]
        clusters = [cluster.to_record() for cluster in deduplicate(docs, Settings(workers=1))]
        index = dedup.NearDuplicateIndex(dedup.Fingerprinter("char", 5, 128, 1), 0.5, containment=0.8, containment_min_words=8)
        found = [index.match_or_keep(Item("p", number, text)) for number, text in enumerate(_edited_paragraphs(300, seed=2))]
        return clusters, [d.to_record() for d in docs], found

    held = run()
    assert len(held[0]) >= 5 and sum(found is not None for found in held[2]) > 50
    monkeypatch.setattr(arena_module, "BUFFER_BYTES", 1)
    monkeypatch.setattr(dedup, "RECENT_COPIES", 0)
    monkeypatch.setattr(dedup, "FACTS_HELD", 2)  # the guard's facts computed again, not held
    kernel = dedup.load_kernel()
    if kernel is not None:  # copies verified by the compiled reader, from the file
        from_file = []
        shared = kernel.kc_shared
        monkeypatch.setattr(kernel, "kc_shared", lambda fd, written, *rest: from_file.append(written) or shared(fd, written, *rest))
        assert run() == held
        assert sum(written > 0 for written in from_file) > 100
        monkeypatch.setattr(dedup, "load_kernel", lambda: None)
    reads = []
    read = arena_module.read_at
    monkeypatch.setattr(arena_module, "read_at", lambda handle, start, size: reads.append(size) or read(handle, start, size))
    assert run() == held
    assert len(reads) > 100  # the copies really came from the file


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_large_blocks_go_back_to_the_os_when_freed():
    from cleaner.arena import bound_heap

    assert bound_heap() is True
