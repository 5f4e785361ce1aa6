"""The persistent index: same decisions as deduplicating old and new together, refused settings,
all-or-nothing writes, and the commands."""

from __future__ import annotations

import copy
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cleaner import bandruns, dedup
from cleaner import index as index_module
from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.document import Document, Source
from cleaner.errors import ConfigError, InputError
from cleaner.bandruns import BandRuns
from cleaner.index import FORMAT_VERSION, Index, StoredLevel
from cleaner.normalise import normalise
from conftest import BACKGROUND, EDITED, REPO
from test_cli import cleaner, read_docs


def document(doc_id: str, text: str) -> Document:
    return normalise(Document(id=doc_id, source=Source(f"{doc_id}.txt", "txt", "0" * 64, 0), text=text))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Document]:
    """60 generated news-like documents with planted duplicates, plus copies that cross parts."""
    folder = tmp_path_factory.mktemp("corpus")
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "corpus.py"), str(folder), "--docs", "60", "--synthetic", "--format", "txt"],
        check=True,
        capture_output=True,
    )
    docs = [document(path.stem, path.read_text(encoding="utf-8")) for path in sorted(folder.rglob("*.txt"))]
    first, second = docs[3].text, docs[7].text
    paragraph = first.split("\n\n")[1]
    docs.append(document("0000070", first.replace(" ", "  ", 5) + "\n\nA short note was added at the end of the copy."))
    docs.append(document("0000071", docs[41].text.split("\n\n")[0] + "\n\n" + paragraph + "\n\n" + second.split("\n\n")[-1]))
    docs.append(document("0000072", BACKGROUND + "\n\n" + docs[50].text))
    docs.append(document("0000073", EDITED + "\n\n" + docs[52].text.split("\n\n")[-1]))
    return docs


def decisions(docs: list[Document]) -> dict[str, tuple]:
    return {doc.id: (doc.status, repr(doc.reason), [repr(removal) for removal in doc.removed]) for doc in docs}


@pytest.mark.parametrize("small", [False, True])
def test_index_runs_decide_as_one_run_over_old_and_new_together(corpus, tmp_path, monkeypatch, small):
    """Parts A, B, C in keep order: index A, run B and add it, run C; each decision matches one
    run over all. With `small` chunks, a run's new copies wait in a temporary file a few at a
    time, a save writes several band runs, and items come in chunks of a few, a few chunks'
    band keys looked up together (keys found for earlier ones reused)."""
    looked_up: list[int] = []  # items of each lookahead
    lookahead = index_module.StoredLevel.lookahead
    monkeypatch.setattr(index_module.StoredLevel, "lookahead", lambda self, batch, *rest: looked_up.append(len(batch.digests)) or lookahead(self, batch, *rest))
    if small:
        monkeypatch.setattr(index_module, "PENDING_CHUNK", 7)
        monkeypatch.setattr(index_module, "RUN_PAIRS", 500)
        monkeypatch.setattr(dedup, "FEATURE_CHUNK", 16)
        monkeypatch.setattr(dedup, "LOOKAHEAD_KEYS", 8_000)
    settings = Settings()
    together = copy.deepcopy(corpus)
    deduplicate(together, settings)
    parts = [corpus[:25], corpus[25:50], [*corpus[50:60], *corpus[60:62]], corpus[62:]]
    path = tmp_path / "index.sqlite"
    separate, spilled = [], []
    for part in parts:
        part = copy.deepcopy(part)
        with Index.open(path, settings, create=True) as index:
            deduplicate(part, settings, stored=index.levels)
            spilled.append(index.levels["paragraph"].pending.spilled is not None)
            index.save()
        separate += part
    assert any(spilled) == small
    assert decisions(separate) == decisions(together)
    if small:  # several chunks to a lookup, and several lookups to a level's run
        assert max(looked_up) > 16 and len(looked_up) > 2 * len(parts)
    else:
        assert len(looked_up) == 2 * len(parts)
    later = {doc.id for part in parts[1:] for doc in part}
    across = [doc for doc in separate if doc.reason and doc.reason.duplicate_of not in later and doc.id in later]
    assert {"0000070"} <= {doc.id for doc in across}, "a later part's copy of an indexed document is dropped"
    reused = [r for doc in separate if doc.id in later for r in doc.removed if r.duplicate_of and r.duplicate_of["doc"] not in later]
    assert reused, "a later part's paragraph that an indexed document holds is removed"


@pytest.mark.parametrize("helper", ["shares", "killed"])
def test_a_helper_process_shares_large_lookaheads_and_runs_decide_as_one_run(corpus, tmp_path, monkeypatch, helper):
    """With two workers, a lookahead of many keys gives the keys whose top bit is set, and the
    higher half of the (item, copy) pairs, to a helper process (`_Helper`), which then reads the
    shingle hashes of the copies the items will verify, ahead of them (`_ReadAhead`). Parts A,
    B, C run and saved in one open index still decide as one run over all (the helper forgets
    the pairs it found when the level forgets its own, at each save). A helper that has died
    is not asked again: its half is done here, with the same decisions."""
    monkeypatch.setattr(index_module, "_SPLIT_KEYS", 0)
    settings = Settings(workers=2)
    together = copy.deepcopy(corpus)
    deduplicate(together, settings)
    calls: list[str] = []
    call = index_module._Helper._call
    monkeypatch.setattr(index_module._Helper, "_call", lambda self, name, args: calls.append(name) or call(self, name, args))
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    separate = []
    with Index.open(path, settings) as index:
        process = index.helper
        if helper == "killed":
            index.helper.start()
            index.helper.process.kill()
            index.helper.process.wait()
        for part in (corpus[:25], corpus[25:50], corpus[50:]):
            part = copy.deepcopy(part)
            deduplicate(part, settings, stored=index.levels)
            index.save()
            separate += part
        gone = [level.helper is None for level in index.levels.values()]
    assert decisions(separate) == decisions(together)
    if helper == "shares":
        assert {"_named", "_tested", "read_hashes"} <= set(calls) and not any(gone)
    else:
        assert calls and all(gone)
    assert process.process is None and process.gone  # ended with the index


@pytest.mark.parametrize("chunk", [3, 16])
def test_chunks_verified_ahead_in_tasks_decide_as_item_after_item(corpus, tmp_path, monkeypatch, chunk):
    """Verifying in the pool (as on Ray), pairs are verified a chunk at a time in its tasks,
    chunks ahead of those decided (`_in_windows`), so some items are compared with earlier
    ones whose fate is not known yet. Every decision, cluster and similarity is that of
    matching item after item (an empty persistent index takes that path)."""
    monkeypatch.setattr(dedup, "FEATURE_CHUNK", chunk)
    monkeypatch.setattr(dedup, "FEATURE_POOL_DOCUMENTS", 0)
    settings = Settings(workers=2)
    one_by_one = copy.deepcopy(corpus)
    with Index.open(tmp_path / "empty.sqlite", settings, create=True) as index:
        expected = [cluster.to_record() for cluster in deduplicate(one_by_one, settings, stored=index.levels)]
    tasks: list[dedup.PairTask] = []
    verify = dedup.verify_pairs
    monkeypatch.setattr(dedup, "verify_pairs", lambda settings, level, task: tasks.append(task) or verify(settings, level, task))
    windowed = copy.deepcopy(corpus)
    clusters = deduplicate(windowed, settings, make_pool=lambda settings: ThreadPoolExecutor(max_workers=2), verify_in_pool=True)
    assert decisions(windowed) == decisions(one_by_one)
    assert [cluster.to_record() for cluster in clusters] == expected
    assert sum(len(cluster["members"]) for cluster in expected) > 20
    undecided = sum(len(task.others) - sum(held is not None for held in task.other_hashes) for task in tasks)
    within = sum(int((task.with_ < 0).sum()) for task in tasks)
    assert undecided > 0 and within > 0, "some pairs were verified before their earlier item was decided"



@pytest.mark.parametrize("pool", [True, False])
def test_components_decided_in_their_own_tasks_decide_as_one_in_order_pass(corpus, monkeypatch, pool):
    """With split_components, the items split into the connected components of the pairs that
    pass the sketch tests, and each task decides whole components in visit order, a few to a
    task here, in a pool of two threads or in this process. Every decision, cluster and
    similarity is that of one in-order pass; items that share nothing plausible go to no task."""
    monkeypatch.setattr(dedup, "FEATURE_CHUNK", 16)
    monkeypatch.setattr(dedup, "FEATURE_POOL_DOCUMENTS", 0)
    monkeypatch.setattr(dedup, "COMPONENT_TASK_ITEMS", 5)
    settings = Settings(workers=2)
    in_order = copy.deepcopy(corpus)
    expected = [cluster.to_record() for cluster in deduplicate(in_order, settings)]
    tasks: list[dedup.ComponentTask] = []
    decide = dedup.decide_components
    monkeypatch.setattr(dedup, "decide_components", lambda settings, level, task: tasks.append(task) or decide(settings, level, task))
    split = copy.deepcopy(corpus)
    make_pool = (lambda settings: ThreadPoolExecutor(max_workers=2)) if pool else (lambda settings: None)
    clusters = deduplicate(split, replace(settings, split_components=True), make_pool=make_pool)
    assert decisions(split) == decisions(in_order)
    assert [cluster.to_record() for cluster in clusters] == expected
    assert sum(len(cluster["members"]) for cluster in expected) > 20
    paragraphs = sum(len(list(dedup.kept_paragraphs(doc))) for doc in in_order if doc.status == "kept")
    sent = sum(len(task.texts) for task in tasks)
    assert len(tasks) > 4 and sent < paragraphs, (len(tasks), sent, paragraphs)
    assert any(task.same_digest.size for task in tasks) and all(task.sharing.size for task in tasks)


def make_index(path: Path, settings: Settings) -> None:
    """An empty index at `path` (a new index exists once saved)."""
    with Index.open(path, settings, create=True) as index:
        index.save()


def update_in_parts(path: Path, settings: Settings, parts: list[list[Document]]) -> None:
    """One run a part that updates the index, as `cleaner run --update-index` does: documents
    stored before are decided anew and their copies replaced."""
    for part in parts:
        part = copy.deepcopy(part)
        with Index.open(path, settings, create=True) as index:
            index.hide(part)
            deduplicate(part, settings, stored=index.levels)
            index.save()


def test_sketches_read_back_from_their_blocks_as_each_copy_was_written(corpus, tmp_path, monkeypatch):
    """Copies' sketches share rows (4 to a row here): blocks begun by one save and finished
    by the next, written a few copies at a time, and after a run replaced some copies, each
    copy's sketch and shingle count read back as its own, in any order asked, all at once or a
    few at a time with the rows read dropped and read again (2 rows held at most)."""
    monkeypatch.setattr(index_module, "SKETCH_ROW_BYTES", 4 * (Settings().num_perm + 4))
    monkeypatch.setattr(index_module, "_CACHED_SKETCH_BYTES", 8 * (Settings().num_perm + 4))
    monkeypatch.setattr(index_module, "PENDING_CHUNK", 3)
    settings = Settings()
    path = tmp_path / "index.sqlite"
    update_in_parts(path, settings, [corpus[:5], corpus[5:12], corpus[:3]])  # the last replaces the first three's copies
    with Index.open(path, settings) as index:
        for name, level in index.levels.items():
            numbers = [n for (n,) in index.connection.execute("SELECT number FROM copies WHERE level = ? ORDER BY number DESC", (name,))]
            assert len(numbers) > 2 * 4 and numbers[-1] > 0, "blocks of many copies, the first ones replaced"
            held, sizes = level.sketches(numbers)
            signatures, hashes = dedup.fingerprinter(settings, name).fingerprints([level.copy(number).item.text for number in numbers])
            assert np.array_equal(held, dedup.sketch_codes(np.asarray(signatures)))
            assert sizes.tolist() == [part.size for part in hashes]
            level.forget()
            pieces = [level.sketches(numbers[start : start + 3]) for start in range(0, len(numbers), 3)]
            assert np.array_equal(np.concatenate([piece[0] for piece in pieces]), held)
            assert np.concatenate([piece[1] for piece in pieces]).tolist() == sizes.tolist()
    with Index.open(path, settings) as index:  # read for one test only: scratch arrays, nothing cached
        for name, level in index.levels.items():
            numbers = [n for (n,) in index.connection.execute("SELECT number FROM copies WHERE level = ? ORDER BY number DESC", (name,))]
            signatures, hashes = dedup.fingerprinter(settings, name).fingerprints([level.copy(number).item.text for number in numbers])
            for part in (numbers, numbers[::3], numbers[:2]):  # all rows (a range scan), rows between skipped
                held, sizes = level.sketches(part, keep=False)
                assert np.array_equal(held, dedup.sketch_codes(np.asarray(signatures))[[numbers.index(n) for n in part]])
                assert sizes.tolist() == [hashes[numbers.index(n)].size for n in part]
            assert level.sketch_slot is None


def test_a_copy_never_takes_the_number_of_one_deleted_before(tmp_path):
    """A run that replaces the last stored document with a duplicate deletes its copies and adds
    none; the next copies must not take their numbers, which stay marked gone for the band
    runs (a copy under a gone number would never be a candidate again)."""
    settings = Settings()
    path = tmp_path / "index.sqlite"
    first = document("a", f"{BACKGROUND}\n\nThe ministry said the talks would resume in the spring after a pause.")
    last = document("b", "Officials counted the votes overnight in the northern provinces of the country.")
    new = document("c", "Farmers in the valley said the harvest came early this year and prices fell.")
    update_in_parts(path, settings, [[first, last], [document("b", first.text)], [new]])
    with Index.open(path, settings) as index:
        for name, level in index.levels.items():
            live = {number for (number,) in index.connection.execute("SELECT number FROM copies WHERE level = ?", (name,))}
            gone = level.runs[0].gone | level.runs[1].gone
            assert gone and not live & gone, (name, live, gone)


def test_split_components_refuses_a_persistent_index_before_reading_the_corpus(tmp_path):
    result = cleaner("run", str(REPO / "seeds"), str(tmp_path / "out"), "--index", str(tmp_path / "news.index"), "--split-components", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"cleaner: error: {dedup.SPLIT_WITH_INDEX}\n"
    assert not (tmp_path / "out").exists() and not (tmp_path / "news.index").exists()


def test_stored_candidates_are_read_whole_only_when_their_sketch_leaves_a_match_possible(corpus, tmp_path, monkeypatch):
    """A stored copy's sketch and size (a small row) rule out most chance candidates before
    its row, shingle hashes and all, is read; the decisions are those of reading every one."""
    settings = Settings()
    path = tmp_path / "index.sqlite"
    with Index.open(path, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus[:45]), settings, stored=index.levels)
        index.save()
    tested, read = [], []
    sketch_test, fetch = dedup.NearDuplicateIndex.sketch_test, StoredLevel._read

    def counted(self, batch):  # the (item, stored copy) pairs the lookahead names, tested at once
        test = sketch_test(self, batch)
        return lambda rows, *args: tested.append(len(rows)) or test(rows, *args)

    monkeypatch.setattr(dedup.NearDuplicateIndex, "sketch_test", counted)
    monkeypatch.setattr(StoredLevel, "_read", lambda self, numbers: read.extend(numbers) or fetch(self, numbers))

    def run() -> dict[str, tuple]:
        tested.clear(), read.clear()
        later = copy.deepcopy(corpus[45:])
        with Index.open(path, settings) as index:
            deduplicate(later, settings, stored=index.levels)
        return decisions(later)

    filtered = run()
    candidates, whole = sum(tested), len(read)
    monkeypatch.setattr(dedup, "sketch_passing", lambda held, *args: np.ones(len(held), dtype=bool))
    monkeypatch.setattr(dedup, "chosen_kernel", lambda: None)  # the compiled test decides as sketch_passing does
    assert run() == filtered
    assert whole < 0.5 * candidates, (whole, candidates)
    assert any(status == "dropped" for status, _, _ in filtered.values())


def test_established_documents_of_a_run_come_after_the_index(corpus, tmp_path):
    """With any keep policy, an index of A and a run over B decide B as a run over A + B with A established."""
    settings = Settings(keep="longest")
    old, new = corpus[:40], corpus[40:]
    together = copy.deepcopy(corpus)
    deduplicate(together, settings, established=lambda doc: doc.id in {d.id for d in old})
    with Index.open(tmp_path / "index.sqlite", settings, create=True) as index:
        deduplicate(copy.deepcopy(old), settings, stored=index.levels)
        index.save()
        fresh = copy.deepcopy(new)
        deduplicate(fresh, settings, stored=index.levels)
    expected = {doc_id: value for doc_id, value in decisions(together).items() if doc_id in {d.id for d in new}}
    assert decisions(fresh) == expected
    assert any(doc.status == "dropped" for doc in fresh)


def test_documents_read_again_replace_their_stored_copies_instead_of_matching_them(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    first = copy.deepcopy(corpus[:20])
    with Index.open(path, settings, create=True) as index:
        deduplicate(first, settings, stored=index.levels)
        index.save()
    before = stored_counts(path)
    again = copy.deepcopy(corpus[:20])
    with Index.open(path, settings) as index:
        index.hide(again)
        deduplicate(again, settings, stored=index.levels)
        index.save()
    assert decisions(again) == decisions(first)
    assert stored_counts(path) == before


def test_hiding_documents_reads_their_copies_not_every_copy_of_the_level(tmp_path):
    """`hide` finds a document's copies by the doc index: the work it asks of SQLite does not
    grow with the copies stored for other documents (it read every copy's row, a full scan of
    the index, for each batch of documents a run read again)."""

    def steps_to_hide(index: Index) -> int:
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        index.connection.set_progress_handler(count, 1)
        index.levels["paragraph"].hide(["doc-1", "absent"])
        index.connection.set_progress_handler(None, 1)
        return steps[0]

    def store(index: Index, numbers: range) -> None:
        rows = [("paragraph", n, f"doc-{n // 10}", n % 10, "en", b"x", n.to_bytes(16, "big")) for n in numbers]
        index.connection.executemany("INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    with Index.open(tmp_path / "index.sqlite", Settings(), create=True) as index:
        store(index, range(100))
        few = steps_to_hide(index)
        store(index, range(100, 20_100))
        index.levels["paragraph"].hidden.clear()
        many = steps_to_hide(index)
        assert index.levels["paragraph"].hidden == set(range(10, 20))
    assert many < 2 * few


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"threshold": 0.7}, "threshold = 0.5 but this run uses 0.7"),
        ({"num_perm": 64}, "num-perm = 128 but this run uses 64"),
        ({"seed": 2}, "seed = 1 but this run uses 2"),
        ({"shingle_hash": "sha1"}, "shingle-hash = 'poly64' but this run uses 'sha1'"),
        ({"paragraph_shingling": "word-5"}, "paragraph-shingling = 'char-5' but this run uses 'word-5'"),
        ({"fact_guard": False}, "fact-guard = True but this run uses False"),
        ({"level": "document"}, "level = 'all' but this run uses 'document'"),
    ],
)
def test_an_index_refuses_a_run_with_other_match_settings(tmp_path, change, named):
    path = tmp_path / "index.sqlite"
    make_index(path, Settings())
    with pytest.raises(ConfigError, match=f"index {path} was built with {named}"):
        Index.open(path, Settings(**change))
    Index.open(path, Settings(keep="longest", workers=3)).close()  # settings that decide no match are free


def test_an_index_of_another_format_is_refused(tmp_path):
    path = tmp_path / "index.sqlite"
    make_index(path, Settings())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE settings SET value = '99' WHERE key = 'format'")
    with pytest.raises(ConfigError, match=f"has format 99, this cleaner reads format {FORMAT_VERSION}"):
        Index.open(path, Settings())


def test_a_file_that_is_not_an_index_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    with pytest.raises(InputError, match="is not a cleaner index"):
        Index.open(path, Settings())
    with pytest.raises(InputError, match="no index at"):
        Index.open(tmp_path / "missing.sqlite", Settings())
    with pytest.raises(InputError, match="folder .* does not exist"):
        Index.open(tmp_path / "nowhere" / "index.sqlite", Settings(), create=True)


def test_a_run_that_read_an_index_another_writer_changed_refuses_to_write(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    with Index.open(path, settings) as first, Index.open(path, settings) as second:
        deduplicate(copy.deepcopy(corpus[:5]), settings, stored=first.levels)
        deduplicate(copy.deepcopy(corpus[5:10]), settings, stored=second.levels)
        first.save()
        with pytest.raises(InputError, match="changed while this run read it"):
            second.save()
    assert stored_counts(path)[0]["document"] == 5


def stored_counts(path: Path) -> tuple[dict[str, int], str]:
    with Index.open(path) as index:
        stats = index.stats(check=True)
    return stats.copies, stats.integrity


def test_an_error_inside_the_write_leaves_the_index_as_it_was(corpus, tmp_path, monkeypatch):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    with Index.open(path, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus[:20]), settings, stored=index.levels)
        index.save()
    before = stored_counts(path)
    written = StoredLevel.write_pending

    def fail_on_paragraphs(self):
        count = written(self)  # the document level's rows are in by now
        if self.level == "paragraph":
            raise OSError("disk full")
        return count

    monkeypatch.setattr(StoredLevel, "write_pending", fail_on_paragraphs)
    with Index.open(path, settings) as index:
        deduplicate(copy.deepcopy(corpus[20:]), settings, stored=index.levels)
        with pytest.raises(OSError, match="disk full"):
            index.save()
    assert stored_counts(path) == before
    assert before[0]["document"] > 0 and before[1] == "ok"


KILLED_WRITER = """
import sys, time
from cleaner import dedup
from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.index import Index, StoredLevel
sys.path.insert(0, {tests!r})
from test_index import document

written = StoredLevel.write_pending
def write_then_wait(self):
    count = written(self)
    print("inside", self.level, count, flush=True)
    time.sleep(60)
StoredLevel.write_pending = write_then_wait
docs = [document(f"new{{n}}", f"Paragraph one of document {{n}} says the council met on Monday to vote.\\n\\n" * 2 + "x " * n) for n in range(30)]
with Index.open({path!r}, Settings()) as index:
    deduplicate(docs, Settings(), stored=index.levels)
    index.save()
"""


def test_a_writer_killed_inside_its_transaction_leaves_the_index_whole(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    with Index.open(path, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus[:10]), settings, stored=index.levels)
        index.save()
    before = stored_counts(path)
    script = KILLED_WRITER.format(tests=str(REPO / "tests"), path=str(path))
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    line = writer.stdout.readline()
    assert line.startswith("inside document"), line
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert stored_counts(path) == before


def stored_contents(path: Path) -> dict[str, list]:
    """Everything an index holds, in an order that does not depend on how it was written: its
    copies, sketch rows and the live (key, number) pairs of each band space."""
    with Index.open(path) as index:
        contents = {
            "copies": index.connection.execute("SELECT * FROM copies ORDER BY level, number").fetchall(),
            "sketches": index.connection.execute("SELECT * FROM sketches ORDER BY id").fetchall(),
        }
        for level in index.levels.values():
            for runs in level.runs:
                pairs = [runs._pairs(run, np.arange(run.fences.size)) for run in runs.runs]
                contents[f"space {runs.space}"] = sorted((key, number) for keys, numbers in pairs for key, number in zip(keys.tolist(), numbers.tolist()))
    return contents


def test_a_new_index_is_written_as_the_run_keeps_copies_and_appears_whole_when_saved(corpus, tmp_path, monkeypatch):
    """A new index is built in a hidden file beside its path, each chunk of kept copies written
    as it fills (nothing waits in a temporary file), and appears at the path only once saved,
    holding what a run saved into an index that existed, empty, would. A run that fails, or
    never saves, leaves nothing behind."""
    monkeypatch.setattr(index_module, "PENDING_CHUNK", 7)
    monkeypatch.setattr(bandruns, "MAX_RUN", 5_000)  # the new index's runs are split into key ranges
    settings = Settings()
    existing = tmp_path / "existing.sqlite"
    make_index(existing, settings)
    with Index.open(existing, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus), settings, stored=index.levels)
        assert index.levels["paragraph"].pending.spilled is not None  # held until the save
        index.save()
    path = tmp_path / "new.sqlite"
    with Index.open(path, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus), settings, stored=index.levels)
        assert not path.exists() and index.levels["paragraph"].pending.spilled is None
        written = index.connection.execute("SELECT COUNT(*) FROM copies").fetchone()[0]
        kept = {name: len(level.pending) for name, level in index.levels.items()}
        assert 0 < written < sum(kept.values()), "full chunks were written as they filled, the rest by the save"
        assert index.save() == kept
        assert index.counts() == kept  # open at its path now
        ranges = sorted((int(run.fences[0]), run.last) for run in index.levels["paragraph"].runs[0].runs)
        assert len(ranges) > 2 and all(last < first for (_, last), (first, _) in zip(ranges, ranges[1:]))
    assert sorted(found.name for found in tmp_path.iterdir()) == ["existing.sqlite", "new.sqlite"]
    assert stored_contents(path) == stored_contents(existing)
    plain = tmp_path / "made by sqlite.sqlite"
    sqlite3.connect(plain).close()
    assert path.stat().st_mode == plain.stat().st_mode, "the same permissions as SQLite gives a file it makes"
    plain.unlink()
    with pytest.raises(RuntimeError, match="stopped"):
        with Index.open(tmp_path / "failed.sqlite", settings, create=True) as index:
            deduplicate(copy.deepcopy(corpus), settings, stored=index.levels)
            raise RuntimeError("stopped")
    assert sorted(found.name for found in tmp_path.iterdir()) == ["existing.sqlite", "new.sqlite"]


def test_a_run_that_makes_an_index_another_run_made_meanwhile_refuses_to_replace_it(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    with Index.open(path, settings, create=True) as first, Index.open(path, settings, create=True) as second:
        deduplicate(copy.deepcopy(corpus[:5]), settings, stored=first.levels)
        deduplicate(copy.deepcopy(corpus[5:10]), settings, stored=second.levels)
        first.save()
        with pytest.raises(InputError, match="was made by another run while this one built it"):
            second.save()
    assert [found.name for found in tmp_path.iterdir()] == ["index.sqlite"]
    with Index.open(path) as index:
        assert {doc for (doc,) in index.connection.execute("SELECT doc FROM copies")} == {doc.id for doc in corpus[:5]}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return folder


STORY = (
    "The city council voted on Tuesday to close the old river bridge for repairs that engineers say "
    "will take at least eighteen months and cost more than the budget allowed."
)
OTHER = "Farmers in the valley say the late frost ruined much of the apple harvest this spring, and prices rose at markets."


def test_commands_build_query_run_against_and_update_an_index(tmp_path):
    old = write(tmp_path / "old", {"a.txt": f"{STORY}\n\n{BACKGROUND}", "b.txt": OTHER})
    new = write(tmp_path / "new", {"c.txt": f"{STORY}\n\n{BACKGROUND}", "d.txt": f"{EDITED}\n\nA new paragraph about the weekend football results and the league table."})
    index = tmp_path / "index.sqlite"

    built = cleaner("index", "build", str(old), str(index), "--isolated", cwd=tmp_path)
    assert (built.returncode, built.stderr) == (0, "")
    assert built.stdout == f"{index}: added 2 documents, 3 paragraphs; 2 documents, 3 paragraphs stored\n"

    stats = cleaner("index", "stats", str(index), "--output-format", "json", "--check", cwd=tmp_path)
    record = json.loads(stats.stdout)
    assert (stats.returncode, record["copies"], record["integrity"]) == (0, {"document": 2, "paragraph": 3}, "ok")
    assert record["settings"]["threshold"] == 0.5 and record["settings"]["format"] == FORMAT_VERSION
    text = cleaner("index", "stats", str(index), cwd=tmp_path).stdout  # no --check: nothing read whole
    assert "documents  2\nparagraphs 3\n" in text and "integrity  not checked (--check reads the whole index)\n" in text

    query = cleaner("index", "query", str(index), str(new / "c.txt"), "--output-format", "json", cwd=tmp_path)
    [result] = json.loads(query.stdout)
    best = result["found"][0]["matches"][0]
    assert (query.returncode, result["doc"], best["doc"], best["jaccard"]) == (0, "c", "a", 1.0)

    run = cleaner("run", str(new), str(tmp_path / "out"), "--index", str(index), "--isolated", "-q", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    docs = {doc["id"]: doc for doc in read_docs(tmp_path / "out")}
    assert docs["c"]["status"] == "dropped" and docs["c"]["reason"]["duplicate_of"] == "a"
    assert docs["c"]["reason"]["detail"].startswith("100% similar to a (cluster D")
    [paragraph] = docs["d"]["removed"]
    assert (paragraph["rule"], paragraph["duplicate_of"]) == ("DD002", {"doc": "a", "paragraph": 1})
    assert cleaner("verify", str(tmp_path / "out"), cwd=tmp_path).returncode == 0

    again = cleaner("run", str(old), str(tmp_path / "again"), "--index", str(index), "--isolated", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert [doc["status"] for doc in read_docs(tmp_path / "again")] == ["kept", "kept"], "indexed documents are not their own duplicates"

    gate = cleaner("check", str(new), "--index", str(index), "--isolated", cwd=tmp_path)
    assert gate.returncode == 1 and "DD001" in gate.stdout

    refused = cleaner("run", str(new), str(tmp_path / "x"), "--index", str(index), "--threshold", "0.7", "--isolated", cwd=tmp_path)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        f"cleaner: error: index {index} was built with threshold = 0.5 but this run uses 0.7; "
        "run with threshold = 0.5 or build a new index\n"
    )

    updated = cleaner("run", str(new), str(tmp_path / "up"), "--index", str(index), "--update-index", "--isolated", "-q", cwd=tmp_path)
    assert updated.returncode == 0
    assert json.loads(cleaner("index", "stats", str(index), "--output-format", "json", cwd=tmp_path).stdout)["copies"] == {
        "document": 3,
        "paragraph": 4,
    }


def test_commands_exit_2_on_a_missing_index_or_a_lone_update_flag(tmp_path):
    seeds = REPO / "seeds"
    missing = cleaner("run", str(seeds), str(tmp_path / "out"), "--index", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        f"cleaner: error: no index at {tmp_path / 'none.sqlite'}; build one with "
        f"`cleaner index build IN {tmp_path / 'none.sqlite'}` or pass --update-index\n",
    )
    lone = cleaner("run", str(seeds), str(tmp_path / "out"), "--update-index", cwd=tmp_path)
    assert (lone.returncode, lone.stderr) == (2, "cleaner: error: --update-index needs --index PATH\n")
    stats = cleaner("index", "stats", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert stats.returncode == 2 and "no index at" in stats.stderr


def test_an_update_that_fails_leaves_no_output_saying_it_happened(tmp_path, monkeypatch):
    """The index is saved before the output is written: a failed save leaves OUT as it was,
    and a run that fails after the save gives, run again, the output of one that never failed."""
    from cleaner import pipeline

    seeds, settings = REPO / "seeds", Settings(workers=1)
    pipeline.clean_corpus([seeds], tmp_path / "fresh", settings, index=tmp_path / "fresh.sqlite", update_index=True)
    with monkeypatch.context() as patch:
        patch.setattr(StoredLevel, "write_pending", lambda self: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            pipeline.clean_corpus([seeds], tmp_path / "out", settings, index=tmp_path / "news.sqlite", update_index=True)
    assert not (tmp_path / "out").exists()
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "write_output", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("no room for OUT")))
        with pytest.raises(OSError, match="no room"):
            pipeline.clean_corpus([seeds], tmp_path / "out", settings, index=tmp_path / "news.sqlite", update_index=True)
    assert not (tmp_path / "out").exists()
    with Index.open(tmp_path / "news.sqlite") as index:
        assert index.counts()["document"] > 0  # saved before the output failed
    pipeline.clean_corpus([seeds], tmp_path / "out", settings, index=tmp_path / "news.sqlite", update_index=True)
    for name in ("docs.jsonl", "clusters.jsonl"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes()


@pytest.mark.parametrize("found_pairs", [8_000_000, 500])
def test_a_lookahead_gives_each_item_the_copies_of_its_own_keys_its_sketch_test_passes(tmp_path, monkeypatch, found_pairs):
    """`lookahead` looks a chunk's keys up at once, tests every (item, copy) pair together and
    keeps the pairs found for later chunks (up to a bound, then starts again): each item still
    gets exactly the copies that share one of its keys or its sentences' keys, are not hidden,
    and pass the test for that item; an item skipped gets None."""
    monkeypatch.setattr(index_module, "_FOUND_PAIRS", found_pairs)
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 2**64, size=(300, 40), dtype=np.uint64)
    stored[100:200, :10] = stored[:100, :10]  # keys several copies share
    sentences = rng.integers(0, 2**64, size=(300, 6), dtype=np.uint64)
    truth: dict[int, set[int]] = {}
    for number, row in enumerate(np.concatenate([stored, sentences], axis=1).tolist()):
        for key in row:
            truth.setdefault(key, set()).add(number)
    settings = Settings()
    with Index.open(tmp_path / "index.sqlite", settings, create=True) as index:
        level = index.levels["paragraph"]
        index.connection.execute("BEGIN")
        level.runs[0].add(stored.ravel(), np.repeat(np.arange(300), 40))
        level.runs[1].add(sentences.ravel(), np.repeat(np.arange(300), 6))
        # each copy's shingle count is its number: the test below asks it
        level._write_sketches(np.arange(300), np.zeros((300, settings.num_perm), dtype=np.uint8), np.arange(300))
        index.connection.execute("COMMIT")
        level.forget()
        level.end, level.hidden = 300, {5, 150}

        def test(rows, held, sizes, places):  # a test that depends on the item and on the copy
            return (rows + sizes[places]) % 3 != 0

        for _ in range(6):  # chunks of 20 items: copies' keys (some asked again), parts of them, new keys
            rows = rng.integers(0, 300, size=20)
            keys = stored[rows].copy()
            keys[::3, 20:] = rng.integers(0, 2**64, size=(len(keys[::3]), 20), dtype=np.uint64)
            keys[1::4] = rng.integers(0, 2**64, size=(len(keys[1::4]), 40), dtype=np.uint64)
            with_sentence = rng.random(20) < 0.7
            sentence_keys = sentences[rows[with_sentence]]
            batch = dedup.FeatureBatch(
                [rng.bytes(32).hex() for _ in range(20)], np.zeros((20, settings.num_perm), dtype=np.uint32), np.empty(0, dtype=np.uint32),
                np.zeros(21, dtype=np.int64), keys, sentence_keys, np.concatenate([[0], np.cumsum(with_sentence)]),
                np.ones(20, dtype=np.int64), np.ones(20, dtype=np.int64),
            )
            skipped = rng.random(20) < 0.2
            found = level.lookahead(batch, skipped, test)
            sentence_rows = iter(sentence_keys.tolist())
            for row in range(20):
                asked = [*keys[row].tolist(), *(next(sentence_rows) if with_sentence[row] else ())]
                expected = sorted({n for key in asked for n in truth.get(key, ()) if n not in level.hidden and (row + n) % 3})
                assert (found[row] is None) if skipped[row] else (found[row].tolist() == expected)


def test_the_helper_looks_up_its_keys_again_once_its_level_has_forgotten_them(tmp_path, monkeypatch):
    """Keys whose top bit is set are looked up by the helper process, which keeps the pairs it
    found for the lookaheads that follow, as the level keeps its own. Once the level forgets
    (after a save), copies stored since under those keys are found too."""
    monkeypatch.setattr(index_module, "_SPLIT_KEYS", 0)
    settings = Settings(workers=2)
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    keys = np.random.default_rng(3).integers(0, 2**63, size=(5, 40), dtype=np.uint64) | np.uint64(1 << 63)
    batch = dedup.FeatureBatch(
        [f"{n:064x}" for n in range(5)], np.zeros((5, settings.num_perm), dtype=np.uint32), np.empty(0, dtype=np.uint32),
        np.zeros(6, dtype=np.int64), keys, np.empty((0, 6), dtype=np.uint64), np.zeros(6, dtype=np.int64),
        np.ones(5, dtype=np.int64), np.ones(5, dtype=np.int64),
    )
    asked: list[str] = []
    call = index_module._Helper._call
    monkeypatch.setattr(index_module._Helper, "_call", lambda self, name, args: asked.append(name) or call(self, name, args))
    with Index.open(path, settings) as index:
        level = index.levels["paragraph"]

        def store(numbers: np.ndarray) -> None:  # copies holding the batch's keys, item i's in copy numbers[i]
            index.connection.execute("BEGIN")
            level.runs[0].add(keys.ravel(), np.repeat(numbers, 40))
            level._write_sketches(numbers, np.zeros((5, settings.num_perm), dtype=np.uint8), np.ones(5))
            index.connection.execute("COMMIT")
            level.forget()
            level.end = int(numbers.max()) + 1

        def everything(rows, held, sizes, places):
            return np.ones(rows.size, dtype=bool)

        store(np.arange(5))
        assert [found.tolist() for found in level.lookahead(batch, np.zeros(5, dtype=bool), everything)] == [[n] for n in range(5)]
        store(np.arange(5, 10))
        assert [found.tolist() for found in level.lookahead(batch, np.zeros(5, dtype=bool), everything)] == [[n, n + 5] for n in range(5)]
        assert asked.count("_named") == 4 and level.helper is not None  # both spaces, twice


def test_compact_splits_overlapping_runs_into_key_ranges_and_decides_as_before(corpus, tmp_path, monkeypatch):
    """An index grown by several saves, some copies replaced, holds overlapping runs; compacted,
    each space's runs are disjoint key ranges holding the pairs of the copies still stored, a
    later run decides as before, and compacting again changes nothing."""
    monkeypatch.setattr(bandruns, "MAX_RUN", 3000)  # merges stop early and ranges are small
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    update_in_parts(path, settings, [corpus[:15], corpus[15:30], corpus[10:20]])  # the last replaces stored copies

    def later() -> dict[str, tuple]:
        docs = copy.deepcopy(corpus[30:])
        with Index.open(path, settings, readonly=True) as index:
            deduplicate(docs, settings, stored=index.levels)
        return decisions(docs)

    before = later()
    with Index.open(path, settings) as index:
        spaces = [runs for level in index.levels.values() for runs in level.runs]
        live = [runs.live_pairs() for runs in spaces]
        assert any(runs.overlapping() for runs in spaces) and sum(live) < sum(runs.pairs() for runs in spaces)
        done = index.compact()
        assert list(done) == ["document", "document sentences", "paragraph", "paragraph sentences"]
        assert [runs.pairs() for runs in spaces] == live
        assert not any(runs.overlapping() for runs in spaces)
        assert max(len(runs.runs) for runs in spaces) > 1, "ranges of MAX_RUN pairs"
    assert later() == before
    with Index.open(path, settings) as index:
        assert all(runs_before == runs_after for runs_before, runs_after in index.compact().values())


def test_the_compact_command_says_what_it_did(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    update_in_parts(path, settings, [corpus[:20], corpus[20:22]])  # runs of very different sizes: not merged
    compacted = cleaner("index", "compact", str(path), cwd=tmp_path)
    assert (compacted.returncode, compacted.stdout.splitlines()[0].split(" in ")[0]) == (0, f"{path}: band runs split into key ranges")
    assert "paragraph            " in compacted.stdout and "splitting" in compacted.stderr
    again = cleaner("index", "compact", str(path), "-q", cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (0, f"{path}: already compact (each space's runs are disjoint key ranges)\n", "")
    missing = cleaner("index", "compact", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert missing.returncode == 2 and "no index at" in missing.stderr


def as_format_9(path: Path) -> None:
    """Rewrite the band blocks of the index at `path` as format 9 wrote them (168 pairs a row:
    whole uint64 keys, uint32 numbers; here a stored key's top bits with other bits below, which
    format 10 drops) and record format 9."""
    connection = sqlite3.connect(path, isolation_level=None)
    spaces = [BandRuns(connection, space) for space in range(4)]
    held = [(runs.space, run.run, runs._pairs(run, np.arange(run.fences.size))) for runs in spaces for run in runs.runs]
    connection.execute("BEGIN")
    connection.execute("DROP TABLE band_blocks")
    connection.execute("CREATE TABLE band_blocks (id INTEGER PRIMARY KEY, keys BLOB NOT NULL, numbers BLOB NOT NULL)")
    for space, run, (keys, numbers) in held:
        keys = (keys << np.uint64(64 - bandruns.KEY_BITS)) | np.uint64(0x2A5A5)
        connection.executemany(
            "INSERT INTO band_blocks VALUES (?, ?, ?)",
            [(bandruns.block_id(space, run, block), keys[start : start + 168].tobytes(), numbers[start : start + 168].astype(np.uint32).tobytes()) for block, start in enumerate(range(0, keys.size, 168))],
        )
        connection.execute("UPDATE band_runs SET fences = ? WHERE space = ? AND run = ?", (keys[::168].tobytes(), space, run))
    connection.execute("UPDATE settings SET value = '9' WHERE key = 'format'")
    connection.execute("COMMIT")
    connection.close()


def test_a_format_9_index_upgrades_in_place_to_what_a_new_build_holds(corpus, tmp_path, monkeypatch):
    """A format-9 index is refused with the command that upgrades it; an upgrade stopped midway
    leaves it refused and goes on when run again; then it holds the copies, sketches and band
    pairs of the index it was made from and a run decides as against that one."""
    monkeypatch.setattr(bandruns, "MAX_RUN", 3000)  # several runs a space
    settings = Settings()
    built, old = tmp_path / "built.sqlite", tmp_path / "old.sqlite"
    make_index(built, settings)
    update_in_parts(built, settings, [corpus[:30]])
    old.write_bytes(built.read_bytes())
    as_format_9(old)
    with pytest.raises(ConfigError, match=rf"has format 9, this cleaner reads format {FORMAT_VERSION}; upgrade it in place with `cleaner index upgrade {old}`"):
        Index.open(old, settings)
    write = BandRuns._write

    def stopped_at_the_paragraphs(self: BandRuns, *args) -> None:
        if self.space >= 2:
            raise KeyboardInterrupt
        write(self, *args)

    monkeypatch.setattr(BandRuns, "_write", stopped_at_the_paragraphs)
    with pytest.raises(KeyboardInterrupt):
        index_module.upgrade(old)
    with pytest.raises(ConfigError, match="has format 9"):
        Index.open(old, settings)
    monkeypatch.setattr(BandRuns, "_write", write)
    progress: list[tuple[int, int]] = []
    before, pairs, free = index_module.upgrade(old, lambda done, total: progress.append((done, total)))
    with Index.open(built, settings) as index:
        spaces = [runs for level in index.levels.values() for runs in level.runs]
        held = [runs.pairs() for runs in spaces]
    assert (before, pairs) == (9, sum(held[2:])) and progress[-1][0] == progress[-1][1] == sum(held)
    assert stored_contents(old) == stored_contents(built)
    assert free > 0 and index_module.upgrade(old) == (FORMAT_VERSION, 0, free)

    def decided(path: Path) -> dict[str, tuple]:
        docs = copy.deepcopy(corpus[30:])
        with Index.open(path, settings, readonly=True) as index:
            deduplicate(docs, settings, stored=index.levels)
        return decisions(docs)

    assert decided(old) == decided(built)


def test_the_upgrade_command_says_what_it_did(corpus, tmp_path):
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    update_in_parts(path, settings, [corpus[:10]])
    as_format_9(path)
    upgraded = cleaner("index", "upgrade", str(path), cwd=tmp_path)
    assert upgraded.returncode == 0 and upgraded.stdout.startswith(f"{path}: format 9 -> {FORMAT_VERSION}, ") and "band pairs rewritten" in upgraded.stderr
    assert "the file keeps its size: " in upgraded.stdout  # the old blocks' pages, free now
    stats = cleaner("index", "stats", str(path), cwd=tmp_path)
    assert stats.returncode == 0 and " of them free pages, reused as the index grows)" in stats.stdout
    again = cleaner("index", "upgrade", str(path), "-q", cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (0, f"{path}: format {FORMAT_VERSION} already\n", "")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("UPDATE settings SET value = '8' WHERE key = 'format'")
    connection.close()
    older = cleaner("index", "upgrade", str(path), cwd=tmp_path)
    assert older.returncode == 2 and "only format 9 upgrades" in older.stderr
    missing = cleaner("index", "upgrade", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert missing.returncode == 2 and "no index file at" in missing.stderr
    (tmp_path / "notes.txt").write_text("not an index\n", encoding="utf-8")
    other = cleaner("index", "upgrade", str(tmp_path / "notes.txt"), cwd=tmp_path)
    assert other.returncode == 2 and "is not a cleaner index" in other.stderr and "Traceback" not in other.stderr


def test_exact_answers_a_chunks_digests_from_its_lookahead_as_a_query_would(corpus, tmp_path):
    """`_held` (a lookahead's first step) finds the chunk's stored digests at once; `exact`
    then answers those digests without a query each, a hidden copy's digest as not stored,
    and a digest the chunk did not ask by its query as before."""
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    update_in_parts(path, settings, [corpus[:20]])
    with Index.open(path, settings) as index:
        level = index.levels["paragraph"]
        stored = index.connection.execute("SELECT digest, number, doc FROM copies WHERE level = 'paragraph' ORDER BY number").fetchall()
        hidden_doc = stored[0][2]
        index.hide([document(hidden_doc, "")])
        asked = [digest.hex() for digest, _, _ in stored[:30]] + [hashlib.sha256(str(n).encode()).hexdigest() for n in range(5)]
        expected = {digest.hex(): None if doc == hidden_doc else number for digest, number, doc in stored}
        assert any(number is None for number in expected.values()) and any(number is not None for number in expected.values())
        held = level._held(asked)
        assert held.tolist() == [expected.get(digest) is not None for digest in asked]
        queries = []
        index.connection.set_trace_callback(queries.append)
        assert [level.exact(digest) for digest in asked] == [expected.get(digest) for digest in asked]
        assert queries == []
        later = stored[30][0].hex()
        assert level.exact(later) == expected[later] and len(queries) == 1
