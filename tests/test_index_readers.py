"""Read-only uses of the SQLite index: an index file and folder that cannot be written, and
`cleaner dupes --index`. None of them may write to the index or create files beside it."""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.index import Index
from conftest import BACKGROUND, EDITED
from test_cli import cleaner, read_docs
from test_index import OTHER, STORY, corpus, decisions, make_index, write  # noqa: F401 (the corpus fixture)

ROOT = os.geteuid() == 0


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in the folder with its bytes and mtime."""
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())}


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    """An index of two documents in its own folder, and a folder of new documents."""
    old = write(tmp_path / "old", {"a.txt": f"{STORY}\n\n{BACKGROUND}", "b.txt": OTHER})
    new = write(tmp_path / "new", {"c.txt": f"{STORY}\n\n{BACKGROUND}", "d.txt": f"{EDITED}\n\nA new paragraph about the weekend football results and the league table."})
    (tmp_path / "shelf").mkdir()
    index = tmp_path / "shelf" / "news.index"
    result = cleaner("index", "build", str(old), str(index), "--isolated", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return index, new


@pytest.fixture
def read_only(built):
    """The index file and its folder made read-only (chmod), put back afterwards."""
    index, _ = built
    index.chmod(0o444)
    index.parent.chmod(0o555)
    yield built
    index.parent.chmod(0o755)
    index.chmod(0o644)


def test_writers_leave_the_index_one_file_in_rollback_mode(built):
    index, _ = built
    assert sorted(path.name for path in index.parent.iterdir()) == ["news.index"]
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    with Index.open(index, Settings()) as writer:
        assert writer.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_read_only_index_serves_every_reading_command_and_is_never_written(read_only, tmp_path):
    index, new = read_only
    assert ROOT or not os.access(index, os.W_OK), "chmod made the index read-only"
    before = state(index.parent)

    run = cleaner("run", str(new), str(tmp_path / "out"), "--index", str(index), "--isolated", "-q", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    docs = {doc["id"]: doc for doc in read_docs(tmp_path / "out")}
    assert docs["c"]["status"] == "dropped" and docs["c"]["reason"]["duplicate_of"] == "a"
    check = cleaner("check", str(new), "--index", str(index), "--isolated", cwd=tmp_path)
    assert check.returncode == 1 and "DD001 duplicate-document" in check.stdout
    dupes = cleaner("dupes", str(new), "--index", str(index), "--isolated", cwd=tmp_path)
    assert dupes.returncode == 1 and "  stored   a " in dupes.stdout
    stats = cleaner("index", "stats", str(index), "--output-format", "json", "--check", cwd=tmp_path)
    assert (stats.returncode, json.loads(stats.stdout)["integrity"]) == (0, "ok")
    query = cleaner("index", "query", str(index), str(new / "c.txt"), cwd=tmp_path)
    assert query.returncode == 0 and "1.00 jaccard" in query.stdout

    assert state(index.parent) == before, "no byte, mtime or -wal/-shm file changed"
    if not ROOT:  # root writes through chmod, so only there does the refusal show
        update = cleaner("run", str(new), str(tmp_path / "up"), "--index", str(index), "--update-index", "--isolated", "-q", cwd=tmp_path)
        assert (update.returncode, update.stderr) == (
            2,
            f"cleaner: error: cannot write index {index}: it or its folder is read-only; "
            "leave out --update-index to read it, or make both writable\n",
        )
        assert state(index.parent) == before


def run_in_read_only_folder(folder: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run cleaner with `folder` unwritable: chmod for a user; for root, whom chmod does not
    stop, a read-only bind mount in a private mount namespace (skipped where that is not allowed)."""
    if not ROOT:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            return cleaner(*args, cwd=cwd)
        finally:
            folder.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): no way to make a folder read-only for root")
    mount = f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(folder))} && mount -o remount,ro,bind {shlex.quote(str(folder))}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root where a read-only bind mount is not allowed ({probe.stderr.strip()})")
    command = " ".join(shlex.quote(part) for part in (sys.executable, "-m", "cleaner", *args))
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && exec {command}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
    )


def test_a_wal_mode_index_in_a_folder_that_cannot_be_written_is_read_as_immutable(built, tmp_path):
    index, new = built
    with sqlite3.connect(index) as connection:  # as an index written by an older cleaner is left
        connection.execute("PRAGMA journal_mode = WAL")
    before = state(index.parent)
    run = run_in_read_only_folder(index.parent, "run", str(new), str(tmp_path / "out"), "--index", str(index), "--isolated", "-q", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    assert [doc["status"] for doc in read_docs(tmp_path / "out")] == ["dropped", "kept"]
    update = run_in_read_only_folder(
        index.parent, "run", str(new), str(tmp_path / "up"), "--index", str(index), "--update-index", "--isolated", "-q", cwd=tmp_path
    )
    assert (update.returncode, update.stderr) == (
        2,
        f"cleaner: error: cannot write index {index}: it or its folder is read-only; "
        "leave out --update-index to read it, or make both writable\n",
    )
    assert state(index.parent) == before


def test_dupes_with_an_index_reports_clusters_that_keep_a_stored_copy(built, tmp_path):
    index, new = built
    text = cleaner("dupes", str(new), "--index", str(index), "--isolated", cwd=tmp_path)
    assert (text.returncode, text.stderr) == (1, "")
    assert text.stdout == (
        "document cluster Df170f6bcb6: 2 copies in 2 document(s)\n"
        "  stored   a                                         The city council voted on Tuesday to close the old river bridge for rep…\n"
        "  removed  c                                   1.00  The city council voted on Tuesday to close the old river bridge for rep…\n"
        "\n"
        "paragraph cluster Pf5ff3c9d56: 2 copies in 2 document(s)\n"
        "  stored   a ¶1                                      Relations between the two former Soviet republics have been tense since…\n"
        "  removed  d ¶0                                0.71  Relations between the two former Soviet nations have been tense since 1…\n"
        "\n"
        "2 cluster(s) in 2 document(s): 1 duplicate document(s), 1 duplicate paragraph(s)\n"
    )
    report = json.loads(cleaner("dupes", str(new), "--index", str(index), "--output-format", "json", "--isolated", cwd=tmp_path).stdout)
    canonicals = {(c["level"], c["canonical"]["doc"], c["canonical"].get("stored")) for c in report["clusters"]}
    assert canonicals == {("document", "a", True), ("paragraph", "a", True)}
    [paragraph] = [c for c in report["clusters"] if c["level"] == "paragraph"]
    assert [(m["doc"], m["paragraph"]) for m in paragraph["members"]] == [("d", 0)]
    alone = cleaner("dupes", str(new), "--isolated", cwd=tmp_path)
    assert alone.returncode == 1 and "stored" not in alone.stdout, "without the index only c and d's own clusters"


def test_a_reader_passes_over_copies_another_writer_adds_while_it_reads(corpus, tmp_path):
    """Copies saved after a reader opened the index are not part of the past it decides against."""
    settings = Settings()
    path = tmp_path / "index.sqlite"
    make_index(path, settings)
    with Index.open(path, settings, readonly=True) as reader:
        with Index.open(path, settings) as writer:
            deduplicate(copy.deepcopy(corpus[:10]), settings, stored=writer.levels)
            writer.save()
        again = copy.deepcopy(corpus[:10])
        deduplicate(again, settings, stored=reader.levels)
    alone = copy.deepcopy(corpus[:10])
    deduplicate(alone, settings)
    assert decisions(again) == decisions(alone)
