"""Band runs (cleaner/bandruns.py): every stored pair is found, nothing else, through saves,
merges, deletions and another connection's writes."""

from __future__ import annotations

import sqlite3
from collections import defaultdict

import numpy as np
import pytest

from cleaner import bandruns
from cleaner.bandruns import KEY_BITS, ROW_BYTES, BandRuns, bloom_filter, bloom_keys, bloom_test, stored_keys
from cleaner.fastminhash import chosen_kernel, kernel_error


def connect(path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.executescript(bandruns.SCHEMA)
    return connection


def save(runs: BandRuns, keys: np.ndarray, numbers: np.ndarray) -> None:
    runs.connection.execute("BEGIN IMMEDIATE")
    runs.add(keys, numbers)
    runs.connection.execute("COMMIT")
    runs.forget()


def save_copies(runs: BandRuns, rng: np.random.Generator, copies: int, common: np.ndarray, truth: dict[int, set[int]], number: int) -> int:
    """Save copies numbered from `number` as one run, each 40 random keys and the first few of
    `common`; record their pairs in `truth`; return the next number."""
    keys, numbers = [], []
    for _ in range(copies):
        held = np.concatenate([rng.integers(0, 2**64, size=40, dtype=np.uint64), common[: int(rng.integers(0, common.size + 1))]])
        keys.append(held)
        numbers.append(np.full(held.size, number))
        for key in held.tolist():
            truth[key].add(number)
        number += 1
    save(runs, np.concatenate(keys), np.concatenate(numbers))
    return number


def found(runs: BandRuns, keys: np.ndarray, keep: bool = True) -> dict[int, set[int]]:
    stored_keys, numbers = runs.lookup(keys, keep=keep)
    assert (np.diff(stored_keys.astype(np.float64)) >= 0).all()  # ascending
    result: dict[int, set[int]] = defaultdict(set)
    for key, number in zip(stored_keys.tolist(), numbers.tolist()):
        result[key].add(number)
    return dict(result)


def expected(truth: dict[int, set[int]], keys: np.ndarray, gone: set[int] = frozenset()) -> dict[int, set[int]]:
    result = {key: truth[key] - gone for key in set(keys.tolist()) if truth.get(key, set()) - gone}
    return result


@pytest.mark.parametrize("as_stored", [False, True])
def test_the_bloom_filter_holds_every_key_and_few_others(as_stored):
    """Of any well-mixed 64-bit keys, and of stored keys (their top KEY_BITS bits, the bits
    above zero) as a run's filter takes them (`bloom_keys`)."""
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64, size=20_000, dtype=np.uint64)
    keys[: keys.size // 2] >>= np.uint64(8)  # half of them in a key range (the top bits alike)
    others = rng.integers(0, 2**64, size=100_000, dtype=np.uint64)
    others[: others.size // 2] >>= np.uint64(8)
    if as_stored:
        keys, others = bloom_keys(stored_keys(keys)), bloom_keys(stored_keys(others))
    bloom = bloom_filter(keys, -(-bandruns.BLOOM_BITS * keys.size // 512))
    assert bloom_test(bloom, keys).all()
    false_positives = bloom_test(bloom, others).mean()
    assert 0 < false_positives < 0.02  # ~1% at 10 bits a key and 7 probes in 512-bit blocks


def test_the_compiled_bloom_filter_is_numpys_bit_for_bit(monkeypatch):
    """Filters written by either backend read the same in the other: an index built where the
    kernel compiles is read where it does not."""
    if chosen_kernel() is None:
        pytest.skip(f"no compiled kernel: {kernel_error() or 'CLEANER_FASTMINHASH=numpy'}")
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**64, size=30_000, dtype=np.uint64)
    asked = np.concatenate([keys[:5_000], rng.integers(0, 2**64, size=50_000, dtype=np.uint64)])
    blocks = bandruns.BLOOM_BITS * keys.size // 512 + 7
    compiled = bloom_filter(keys, blocks)
    compiled_test = bloom_test(compiled, asked)
    monkeypatch.setenv("CLEANER_FASTMINHASH", "numpy")
    assert chosen_kernel() is None
    assert np.array_equal(bloom_filter(keys, blocks), compiled)
    assert np.array_equal(bloom_test(compiled, asked), compiled_test)
    assert compiled_test[:5_000].all() and 0 < compiled_test[5_000:].mean() < 0.02


@pytest.mark.parametrize("gap_width, number_width", [(2, 3), (1, 1), (5, 4), (8, 8)])
def test_blocks_unpack_alike_compiled_and_in_numpy(monkeypatch, gap_width, number_width):
    """Block rows packed at any widths unpack to the keys and numbers packed, in the compiled
    kernel (where it compiles) and in numpy, into memory that held other values."""
    rng = np.random.default_rng(gap_width * 10 + number_width)
    counts = rng.integers(1, 40, size=50)  # a block of one pair among them: no gaps
    counts[3] = 1
    steps = rng.integers(0, 256**gap_width - 1, size=int(counts.sum()), dtype=np.uint64, endpoint=True) >> np.uint64(8)
    firsts = np.cumsum(counts) - counts
    steps[firsts] = 0  # each block's first key is its fence; its later ones the key before plus a gap
    numbers = rng.integers(0, 256**number_width - 1, size=steps.size, dtype=np.uint64, endpoint=True)
    fences = rng.integers(0, 2**64, size=counts.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        keys = np.concatenate([fence + np.cumsum(block) for fence, block in zip(fences, np.split(steps, firsts[1:]))])
    gaps = np.delete(steps, firsts)
    gap_rows = [bytes(row) for row in np.split(np.frombuffer(bandruns.pack(gaps, gap_width), np.uint8), np.cumsum((counts - 1) * gap_width)[:-1])]
    number_rows = [bytes(row) for row in np.split(np.frombuffer(bandruns.pack(numbers, number_width), np.uint8), np.cumsum(counts * number_width)[:-1])]
    backends = ["numpy"] if chosen_kernel() is None else ["compiled", "numpy"]
    for backend in backends:
        if backend == "numpy":
            monkeypatch.setenv("CLEANER_FASTMINHASH", "numpy")
        into = np.full((2, keys.size), 7, dtype=np.uint64)
        bandruns._unpack_blocks(fences, counts, gap_rows, number_rows, gap_width, number_width, into[0], into[1])
        assert np.array_equal(into[0], keys) and np.array_equal(into[1], numbers), backend


def test_a_lookup_reads_only_the_filter_rows_its_keys_fall_in(tmp_path, monkeypatch):
    """A few keys read the rows of a run's filter they fall in, not the whole filter (a check of
    a few documents against a large index); keys falling in most rows read the rest in one
    pass; every lookup finds exactly the stored pairs."""
    rng = np.random.default_rng(5)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    keys = rng.integers(0, 2**64, size=130_000, dtype=np.uint64)
    save(runs, keys, np.arange(keys.size))
    truth: dict[int, set[int]] = defaultdict(set)
    for number, key in enumerate(keys.tolist()):
        truth[key].add(number)
    [run] = runs.runs
    assert run.rows > 40
    reads: list[int] = []
    read_filter = BandRuns._read_filter
    monkeypatch.setattr(BandRuns, "_read_filter", lambda self, run, rows, bloom: reads.append(rows.size) or read_filter(self, run, rows, bloom))
    few = np.concatenate([keys[:3], rng.integers(0, 2**64, size=3, dtype=np.uint64)])
    assert found(runs, few) == expected(truth, few)
    assert reads == [run.read.sum()] and 0 < reads[0] <= 6
    many = np.concatenate([keys[::10], rng.integers(0, 2**64, size=5_000, dtype=np.uint64)])
    assert found(runs, many) == expected(truth, many)
    assert run.read.all() and reads == [reads[0], run.rows - reads[0]]


def test_a_last_lookup_reads_filters_it_needs_most_of_into_one_scratch_array(tmp_path):
    """A lookup that keeps nothing for later ones (`keep=False`, a batch's last) reads each
    filter its keys fall in mostly into one array the runs share, overwritten run after run,
    and finds exactly the stored pairs; a few keys still read their rows into the run's own
    filter, kept."""
    rng = np.random.default_rng(7)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    truth: dict[int, set[int]] = defaultdict(set)
    for start, size in ((0, 200_000), (200_000, 80_000)):  # two runs, the first the larger
        keys = rng.integers(0, 2**64, size=size, dtype=np.uint64)
        save(runs, keys, np.arange(start, start + size))
        for number, key in zip(range(start, start + size), keys.tolist()):
            truth[key].add(number)
    stored = np.fromiter(truth, dtype=np.uint64)
    assert len(runs.runs) == 2
    many = np.concatenate([stored[::7], rng.integers(0, 2**64, size=20_000, dtype=np.uint64)])
    assert found(runs, many, keep=False) == expected(truth, many)
    assert all(run.bloom is None for run in runs.runs) and runs._scratch.size == max(run.bits for run in runs.runs) // 8
    few = np.concatenate([stored[:2], rng.integers(0, 2**64, size=2, dtype=np.uint64)])
    assert found(runs, few, keep=False) == expected(truth, few)
    assert all(0 < run.read.sum() < run.rows for run in runs.runs)


def test_lookups_find_exactly_the_stored_pairs_through_many_saves_and_merges(tmp_path):
    """(Keys drawn at random: no two share their top KEY_BITS bits.)"""
    rng = np.random.default_rng(2)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    # a few keys shared by many copies (common sentences), so a key's pairs span blocks
    common = rng.integers(0, 2**64, size=3, dtype=np.uint64)
    truth: dict[int, set[int]] = defaultdict(set)
    number = 0
    for batch in range(12):
        number = save_copies(runs, rng, int(rng.integers(20, 200)), common, truth, number)
        # runs stay few: each is more than twice the next smaller one
        sizes = sorted(run.pairs for run in runs.runs)
        assert all(larger > 2 * smaller for smaller, larger in zip(sizes, sizes[1:]))
        stored = np.fromiter(truth, dtype=np.uint64)
        asked = np.concatenate([rng.choice(stored, size=300), rng.integers(0, 2**64, size=300, dtype=np.uint64), common])
        assert found(runs, asked) == expected(truth, asked)
    assert max(len(truth[key]) for key in common.tolist()) > ROW_BYTES // 2  # the spanning case was met
    assert runs.pairs() == sum(len(numbers) for numbers in truth.values())
    assert len(runs.runs) < 6


def test_runs_written_with_another_row_size_read_and_merge_the_same(tmp_path, monkeypatch):
    """Runs written with another ROW_BYTES (down to a pair a block) read the same: lookups go
    by each run's fences, and a merge of runs of several sizes finds every pair."""
    rng = np.random.default_rng(5)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 1)
    common = rng.integers(0, 2**64, size=2, dtype=np.uint64)
    truth: dict[int, set[int]] = defaultdict(set)
    for number, row_bytes in enumerate((996, 996, 1, 3_000)):
        monkeypatch.setattr(bandruns, "ROW_BYTES", row_bytes)
        keys = np.concatenate([rng.integers(0, 2**64, size=2_000, dtype=np.uint64), np.repeat(common, 1)])
        numbers = np.arange(number * 10_000, number * 10_000 + keys.size)
        for key, held in zip(keys.tolist(), numbers.tolist()):
            truth[key].add(held)
        save(runs, keys, numbers)
        stored = np.fromiter(truth, dtype=np.uint64)
        asked = np.concatenate([stored, rng.integers(0, 2**64, size=500, dtype=np.uint64)])
        assert found(runs, asked) == expected(truth, asked)
    assert len(runs.runs) < 4  # merges happened across block sizes


def test_partitioned_runs_split_the_key_space_and_hold_exactly_the_live_pairs(tmp_path, monkeypatch):
    """`partition` rewrites runs of every key as runs of disjoint key ranges, ~MAX_RUN pairs
    each, leaving out gone copies' pairs and no block row of the old runs; lookups find the
    same pairs, keys on a range's edge and keys whose pairs span blocks among them."""
    monkeypatch.setattr(bandruns, "MAX_RUN", 3_000)
    monkeypatch.setattr(bandruns, "ROW_BYTES", 200)  # blocks of 100 pairs at most: common keys span them
    rng = np.random.default_rng(7)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 2)
    # shared by many copies (pairs over several blocks), and on the edges of 8 ranges
    common = np.concatenate([rng.integers(0, 2**64, size=2, dtype=np.uint64), np.array([2**63, 2**62 - 1, 0, 2**64 - 1], dtype=np.uint64)])
    truth: dict[int, set[int]] = defaultdict(set)
    number = 0
    for _ in range(6):
        number = save_copies(runs, rng, 70, common, truth, number)
    gone = {5, 77, 200}
    runs.connection.execute("BEGIN")
    runs.drop(sorted(gone))
    runs.connection.execute("COMMIT")
    before = runs.runs
    edge = 2 ** (KEY_BITS - 4)  # runs hold stored keys, from 0 to 2**KEY_BITS
    assert len(before) == 6 and all(int(run.fences[0]) < edge and run.last > 2**KEY_BITS - edge for run in before)
    held = runs.pairs()  # gone copies' pairs too: ranges are sized before those are left out
    monkeypatch.setattr(bandruns, "MAX_RUN", -(-held // 8))  # 8 ranges, 2**(KEY_BITS - 3) keys wide
    runs.connection.execute("BEGIN")
    runs.partition()
    runs.connection.execute("COMMIT")
    runs.forget()
    live = sum(len(numbers - gone) for numbers in truth.values())
    assert runs.pairs() == runs.live_pairs() == live
    assert len(runs.runs) == 8
    ranges = sorted((int(run.fences[0]), run.last) for run in runs.runs)
    assert all(last < first for (_, last), (first, _) in zip(ranges, ranges[1:])), "the ranges do not overlap"
    assert runs.connection.execute("SELECT COUNT(*) FROM band_blocks").fetchone()[0] == sum(run.fences.size for run in runs.runs)
    assert max(len(truth[key]) for key in common.tolist()) > bandruns.ROW_BYTES // 2
    asked = np.concatenate([np.fromiter(truth, dtype=np.uint64), rng.integers(0, 2**64, size=500, dtype=np.uint64)])
    assert found(runs, asked) == expected(truth, asked, gone)


def test_dropped_copies_are_left_out_at_once_and_their_pairs_merged_away(tmp_path):
    rng = np.random.default_rng(3)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 2)
    keys = rng.integers(0, 2**64, size=(50, 30), dtype=np.uint64)
    truth = {key: {number} for number, row in enumerate(keys.tolist()) for key in row}
    save(runs, keys.ravel(), np.repeat(np.arange(50), 30))
    runs.connection.execute("BEGIN")
    runs.drop([3, 7])
    runs.connection.execute("COMMIT")
    assert found(runs, keys.ravel()) == expected(truth, keys.ravel(), gone={3, 7})
    assert (runs.pairs(), runs.live_pairs()) == (50 * 30, 48 * 30)  # still in the run, not counted
    before = runs.pairs()
    more = rng.integers(0, 2**64, size=(50, 30), dtype=np.uint64)  # as many again: merged with the first run
    save(runs, more.ravel(), np.repeat(np.arange(50, 100), 30))
    assert len(runs.runs) == 1 and runs.pairs() == runs.live_pairs() == before + more.size - 2 * 30
    assert found(runs, keys.ravel()) == expected(truth, keys.ravel(), gone={3, 7})


def writer_and_reader(tmp_path, seed: int):
    """Two connections to one file's runs, and the 2,000 keys the writer saved (20 a copy)."""
    rng = np.random.default_rng(seed)
    writer = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    reader = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    first = rng.integers(0, 2**64, size=2_000, dtype=np.uint64)
    save(writer, first, np.arange(first.size) // 20)
    return rng, writer, reader, first


def test_a_reader_sees_runs_another_connection_merged_meanwhile(tmp_path):
    rng, writer, reader, first = writer_and_reader(tmp_path, 4)
    assert set(found(reader, first)) == set(first.tolist())  # the reader holds the catalogue now
    second = rng.integers(0, 2**64, size=2_000, dtype=np.uint64)
    save(writer, second, 100 + np.arange(second.size) // 20)  # merged with the first: that run is gone
    assert len(writer.runs) == 1
    both = np.concatenate([first, second])
    assert set(found(reader, both)) == set(both.tolist())


def test_a_rolled_back_save_leaves_nothing(tmp_path):
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    keys = np.arange(1, 1_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    save(runs, keys, np.arange(1_000))
    runs.connection.execute("BEGIN IMMEDIATE")
    runs.add(keys + np.uint64(1), np.arange(1_000, 2_000))  # merges with the first run
    runs.connection.execute("ROLLBACK")
    runs.forget()
    assert runs.pairs() == 1_000
    assert found(runs, keys) == {key: {number} for number, key in enumerate(keys.tolist())}


def test_keys_that_share_their_top_bits_are_one_key(tmp_path):
    """A run stores a key's top KEY_BITS bits: a lookup of a key differing from a stored one only
    below them names its pairs (under the asked key), and of one differing above them does not."""
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 0)
    rng = np.random.default_rng(11)
    stored = rng.integers(0, 2**64, size=1_000, dtype=np.uint64)
    save(runs, stored, np.arange(stored.size))
    below, above = np.uint64(1), np.uint64(1 << (64 - KEY_BITS))
    alike = stored[:3] ^ below
    assert found(runs, alike) == {key: {number} for number, key in enumerate(alike.tolist())}
    both = np.concatenate([stored[:1], stored[:1] ^ below])  # one stored pair, two asked keys
    assert found(runs, both) == {key: {0} for key in both.tolist()}
    assert found(runs, stored[:3] ^ above) == {}


def test_a_run_packs_each_block_at_the_widths_it_needs(tmp_path):
    """Keys as dense as a 1M-document index's key ranges (gaps of ~3,400 stored keys) with
    3-byte copy numbers take ~5 bytes a pair; wider gaps and numbers in the same run take wider
    blocks; every pair is found."""
    rng = np.random.default_rng(12)
    runs = BandRuns(connect(tmp_path / "runs.sqlite"), 2)
    dense = np.uint64(7 << 36) + rng.integers(0, 100_000 * 3_400, size=100_000, dtype=np.uint64)
    sparse = rng.integers(0, 2**KEY_BITS, size=2_000, dtype=np.uint64)  # gaps of ~2**31 among them
    keys = np.concatenate([dense, sparse]) << np.uint64(64 - KEY_BITS)
    numbers = rng.integers(0, 2**24, size=keys.size)
    numbers[-500:] += 2**32  # some blocks need 5-byte numbers
    save(runs, keys, numbers)
    truth: dict[int, set[int]] = defaultdict(set)
    for key, number in zip(keys.tolist(), numbers.tolist()):
        truth[key].add(number)
    widths = dict(runs.connection.execute("SELECT key_bytes * 10 + number_bytes, COUNT(*) FROM band_blocks GROUP BY 1").fetchall())
    assert widths[23] > 0.9 * sum(widths.values()) and len(widths) > 2
    dense_rows = runs.connection.execute("SELECT SUM(LENGTH(keys) + LENGTH(numbers)), COUNT(*) FROM band_blocks WHERE key_bytes = 2 AND number_bytes = 3").fetchone()
    [run] = runs.runs
    assert dense_rows[0] / (dense_rows[1] * -(-run.pairs // run.fences.size)) < 5.1
    asked = np.concatenate([keys[::3], rng.integers(0, 2**64, size=1_000, dtype=np.uint64)])
    assert found(runs, asked) == expected(truth, asked)


@pytest.mark.parametrize("counts", [[0, 0], [3, 0, 2], [1]])
def test_spans_expand_each_start_and_count(counts):
    starts = np.arange(len(counts)) * 10
    assert bandruns.spans(starts, np.array(counts)).tolist() == [start + i for start, count in zip(starts, counts) for i in range(count)]


def test_a_reader_holding_a_merged_away_run_reads_the_catalogue_again(tmp_path):
    rng, writer, reader, first = writer_and_reader(tmp_path, 5)
    stale = reader.runs
    save(writer, rng.integers(0, 2**64, size=2_000, dtype=np.uint64), 100 + np.arange(2_000) // 20)
    # as if the merge had come between reading the catalogue and reading the blocks
    reader.runs  # notes the new data_version
    reader._runs = stale
    assert set(found(reader, first)) == set(first.tolist())
    assert [run.run for run in reader.runs] == [run.run for run in writer.runs] != [run.run for run in stale]
