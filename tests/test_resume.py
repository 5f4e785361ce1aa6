"""`--resume`: finish an interrupted run from the per-file results it kept, output byte-identical.

A run is interrupted in-process by making the k+1-th file's processing raise (a stand-in for the
kill that tests/test_crash.py sends to a real `cleaner run`); the kept entries are then reused,
and only entries for the same bytes, settings, rules and version are.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

import cleaner.pipeline as pipeline
from cleaner import Document, Settings, clean_corpus
from cleaner.ingest import discover
from cleaner.pipeline import process_file, split_large
from cleaner.resume import ResultCache, cache_folder
from cleaner.rules import load_ruleset
from cleaner.verify import verify_output

from test_fuzz import FUZZ, corpora
from test_ingest import refuse_to_open
from test_reliability import build, generated_corpus, snapshot


class Interrupted(Exception):
    """What stops a run half-way in these tests."""


def interrupt_after(monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    """Make the run's `files + 1`-th input file raise before it is processed."""
    done = []

    def counted(*args, **kwargs):
        if len(done) == files:
            raise Interrupted
        done.append(1)
        return process_file(*args, **kwargs)

    monkeypatch.setattr(pipeline, "process_file", counted)


def interrupt_in_dedup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the run raise once every file went through the per-document stages."""

    def interrupted(*args, **kwargs):
        raise Interrupted

    monkeypatch.setattr(pipeline, "deduplicate", interrupted)


def interrupted_run(monkeypatch, inputs, out, files: int | None, settings: Settings = Settings(workers=1)) -> None:
    """Run until `files` files are done (or, for None, until dedup), then raise."""
    with monkeypatch.context() as patch:
        if files is None:
            interrupt_in_dedup(patch)
        else:
            interrupt_after(patch, files)
        with pytest.raises(Interrupted):
            clean_corpus(inputs, out, settings)


def entries(out: Path) -> list[Path]:
    return sorted(cache_folder(out).glob("*.json"))


@pytest.fixture
def corpus(tmp_path) -> list[Path]:
    return generated_corpus(tmp_path / "in")


@pytest.fixture
def reference(corpus, tmp_path) -> dict[str, bytes]:
    clean_corpus(corpus, tmp_path / "reference", Settings())
    return snapshot(tmp_path / "reference")


def test_resume_reuses_the_finished_files_and_writes_the_same_bytes(monkeypatch, corpus, reference, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=10)
    assert not out.exists()
    assert len(entries(out)) == 10
    result = clean_corpus(corpus, out, Settings(), resume=True)
    assert (result.reused_files, result.manifest["inputs"]["files"]) == (10, 27)
    assert snapshot(out) == reference
    assert verify_output(out) == []
    assert not cache_folder(out).exists(), "a finished run removes its cache"


def test_resume_over_a_previous_output_replaces_it_with_the_new_run(monkeypatch, corpus, reference, tmp_path):
    out = tmp_path / "out"
    clean_corpus([build(tmp_path / "old", {"old.txt": "An older corpus.\nOne document."})], out, Settings())
    interrupted_run(monkeypatch, corpus, out, files=None)
    assert json.loads((out / "docs.jsonl").read_text())["id"] == "old"
    assert clean_corpus(corpus, out, Settings(workers=2), resume=True).reused_files == 27
    assert snapshot(out) == reference


def test_a_changed_file_is_processed_again_and_the_others_reused(monkeypatch, corpus, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=None)
    assert len(entries(out)) == 27
    changed = corpus[0] / "story00.txt"
    changed.write_text(changed.read_text() + "\n\nA paragraph added after the interrupted run began.")
    assert clean_corpus(corpus, out, Settings(), resume=True).reused_files == 26
    clean_corpus(corpus, tmp_path / "clean", Settings())
    assert snapshot(out) == snapshot(tmp_path / "clean")
    assert "added after the interrupted run" in (out / "text/story00.txt").read_text()


@pytest.mark.parametrize(
    "changed",
    [Settings(lang=("en",)), Settings(threshold=0.9), Settings(select=("BP",)), Settings(max_file_size=10_000)],
    ids=["lang", "threshold", "select", "max-file-size"],
)
def test_changed_settings_invalidate_every_entry(monkeypatch, corpus, tmp_path, changed):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=12)
    assert clean_corpus(corpus, out, changed, resume=True).reused_files == 0
    clean_corpus(corpus, tmp_path / "clean", changed)
    assert snapshot(out) == snapshot(tmp_path / "clean")


def test_changed_rules_invalidate_every_entry(monkeypatch, corpus, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=12)
    rules = build(
        tmp_path / "rules",
        {"BP900-story-word.toml": 'id = "BP900"\nname = "story-word"\nsummary = "s"\nscope = "line"\nwhere = "anywhere"\n'
         'pattern = ".*Azerbaijan.*"\naction = "flag"\nstatus = "stable"\n'},
    )
    with_rules = Settings(rules=(str(rules),))
    assert clean_corpus(corpus, out, with_rules, resume=True).reused_files == 0
    assert b'"rule":"BP900"' in snapshot(out)["docs.jsonl"]


def test_workers_do_not_change_the_output_so_they_keep_the_entries(monkeypatch, corpus, reference, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=12, settings=Settings(workers=1, strict=True))
    assert clean_corpus(corpus, out, Settings(workers=2), resume=True).reused_files == 12
    assert snapshot(out) == reference


def test_a_cut_short_or_foreign_entry_is_recomputed(monkeypatch, corpus, reference, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=12)
    first, second, third, fourth = entries(out)[:4]
    first.write_bytes(first.read_bytes()[:100])
    second.write_text('{"key": null, "documents": []}')
    third.write_text("[]")
    fourth.write_bytes(fourth.read_bytes()[:-100])  # its key intact, its documents cut short
    assert clean_corpus(corpus, out, Settings(), resume=True).reused_files == 8
    assert snapshot(out) == reference


def test_a_resumed_run_loads_one_reused_file_at_a_time(monkeypatch, corpus, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=None)
    files = split_large(discover(corpus).files)
    cache = ResultCache(cache_folder(out), reuse=True)
    loaded = []
    original = ResultCache._load
    monkeypatch.setattr(ResultCache, "_load", lambda self, key: loaded.append(key["path"]) or original(self, key))
    results = cache.process(files, Settings(), load_ruleset(), lambda pending: iter(()))
    for position, (documents, timings) in enumerate(results):
        assert len(loaded) == position + 1, "each file's documents are read when its turn comes"
        assert documents and all(doc.source.path == files[position].relpath for doc in documents)
    assert cache.reused == len(files) == len(loaded)


def test_without_resume_the_entries_are_neither_read_nor_kept(monkeypatch, corpus, reference, tmp_path):
    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=12)
    stale = cache_folder(out) / "stale.json"
    stale.write_text("{}")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 3)
        with pytest.raises(Interrupted):
            clean_corpus(corpus, out, Settings(workers=1))
    assert len(entries(out)) == 3, "a fresh run starts an empty cache"
    assert clean_corpus(corpus, out, Settings()).reused_files == 0
    assert snapshot(out) == reference
    assert not cache_folder(out).exists()


def test_an_unreadable_file_is_never_cached(monkeypatch, tmp_path):
    corpus = build(tmp_path / "in", {"good.txt": "A good article.", "locked.txt": "Locked away."})
    refuse_to_open(monkeypatch, "locked.txt")
    out = tmp_path / "out"
    interrupted_run(monkeypatch, [corpus], out, files=None)
    [entry] = entries(out)
    assert json.loads(entry.read_text())["key"]["path"] == "good.txt"


def test_the_cli_says_how_many_files_it_reused(monkeypatch, corpus, reference, tmp_path):
    from typer.testing import CliRunner

    from cleaner.cli import app

    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=5)
    result = CliRunner().invoke(app, ["run", *map(str, corpus), str(out), "--resume", "--isolated"])
    assert result.exit_code == 0, result.output
    assert "cleaner: resumed: reused 5 of 27 input files\n" in result.stderr
    assert snapshot(out) == reference


def test_an_interrupted_output_is_named_so_by_verify_and_explain(monkeypatch, corpus, tmp_path):
    from typer.testing import CliRunner

    from cleaner.cli import app

    out = tmp_path / "out"
    interrupted_run(monkeypatch, corpus, out, files=5)
    for command in (["verify", str(out)], ["explain", str(out), "story00"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        assert result.stderr == (
            f"cleaner: error: a run writing {str(out)!r} was interrupted or is still going (it left .out.cleaner-cache); "
            f"no complete output is there: finish it with `cleaner run IN... {out} --resume`\n"
        )
    clean_corpus([build(tmp_path / "old", {"old.txt": "An older corpus."})], tmp_path / "done", Settings())
    shutil.copytree(tmp_path / "done", out)
    result = CliRunner().invoke(app, ["verify", str(out)])
    assert (result.exit_code, result.stdout) == (0, f"{out}: ok\n")
    assert "the folder holds the last complete output" in result.stderr


def test_document_state_round_trips_exactly_for_every_kind_of_document(tmp_path):
    corpus = generated_corpus(tmp_path / "in")
    build(corpus[0], {"bad.txt": b"\xff\xfe\x00binary", os.fsencode("odd-\udce9.txt"): "A name that is not UTF-8."})
    assert_states_round_trip(corpus)


@settings(FUZZ, max_examples=25)
@given(corpora())
def test_document_state_round_trips_exactly_for_messy_documents(corpus):
    with tempfile.TemporaryDirectory() as folder:
        assert_states_round_trip([build(Path(folder), corpus.files)])


def assert_states_round_trip(inputs: list[Path]) -> None:
    """Every document after the per-document stages survives to_state -> JSON -> from_state."""
    defaults = Settings()
    ruleset = load_ruleset(defaults.rules)
    for file in discover(inputs).files:
        documents, _ = process_file(file, defaults, ruleset)
        for doc in documents:
            back = Document.from_state(json.loads(json.dumps(doc.to_state())))
            assert back == doc
            assert back.origin == doc.origin
            assert back.to_record() == doc.to_record()
