from __future__ import annotations

import json

import pytest

from cleaner import arena as arena_module
from cleaner.arena import Arena
from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.document import Document, Source
from cleaner.pipeline import read_corpus
from cleaner.store import DocumentStore
from conftest import BACKGROUND, EDITED
from test_dedup import doc, story


def record(document_id: str, path: str, number: int) -> Document:
    return Document(id=document_id, source=Source(path, "jsonl", "0" * 64, 10, record=number), text=f"{path} {number}")


def test_documents_come_back_equal_in_id_order_and_changes_stay_put():
    docs = [doc(f"d{n}", story(n), "Caf\u00e9 \udcff") for n in (3, 1, 2)]
    store = DocumentStore(docs, Arena(buffer_bytes=1))  # every document in the file
    store.sort_by_id()
    assert [d.id for d in store] == ["d1", "d2", "d3"] == store.ids()
    assert [d.to_state() for d in store] == [d.to_state() for d in sorted(docs, key=lambda d: d.id)]
    changed = store[1]
    changed.status = "dropped"
    assert store[1].status == "kept"  # a copy: nothing changes until it is put back
    store.put(changed)
    assert store[1].status == "dropped" and store.statuses() == ["kept", "dropped", "kept"]
    assert [d.id for d in store[1:]] == ["d2", "d3"] and len(store) == 3


def test_a_taken_id_is_renamed_after_its_file_and_record():
    store = DocumentStore(
        [record("x", "b.jsonl", 1), record("x", "a.jsonl", 4), record("a.jsonl#4", "c.jsonl", 2), record("x", "a.jsonl", 0)]
    )
    store.sort_by_id()
    found = {(d.source.path, d.source.record): (d.id, d.meta.get("duplicate_id")) for d in store}
    assert found == {
        ("a.jsonl", 0): ("x", None),  # the first by (path, record) keeps the id
        ("a.jsonl", 4): ("a.jsonl#4~2", "x"),  # its plain name is another record's id
        ("b.jsonl", 1): ("b.jsonl#1", "x"),
        ("c.jsonl", 2): ("a.jsonl#4", None),
    }
    assert store.ids() == sorted(store.ids())


def test_dedup_over_a_store_equals_dedup_over_a_list(monkeypatch):
    def corpus() -> list[Document]:
        docs = [doc(f"d{n:02}", story(n % 7), BACKGROUND if n % 3 else EDITED, story(50 + n), story(n % 4)) for n in range(30)]
        return docs + [doc(f"c{n}", story(n), story(50 + n)) for n in range(3)]  # copies of d00-d02, less a paragraph

    listed = corpus()
    clusters = [c.to_record() for c in deduplicate(listed, Settings(workers=1))]
    monkeypatch.setattr(arena_module, "BUFFER_BYTES", 1)
    store = DocumentStore(corpus())
    store.sort_by_id()
    assert [c.to_record() for c in deduplicate(store, Settings(workers=1))] == clusters
    assert [d.to_record() for d in store] == [d.to_record() for d in sorted(listed, key=lambda d: d.id)]
    assert sum(d.status == "dropped" for d in listed) >= 3 and sum(bool(d.removed) for d in listed) >= 5


def test_a_run_keeps_its_documents_on_disk(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    lines = [json.dumps({"id": f"r{n}", "text": story(n)}) for n in range(20)]
    (tmp_path / "in" / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(arena_module, "BUFFER_BYTES", 1)
    corpus = read_corpus([tmp_path / "in"], Settings(workers=1))
    assert isinstance(corpus.documents, DocumentStore) and corpus.documents._arena._written > 0
    assert [d.id for d in corpus.documents] == sorted(f"r{n}" for n in range(20))
    with pytest.raises(IndexError):
        corpus.documents[20]
