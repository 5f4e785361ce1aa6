"""The shared Redis index: the same outputs as the SQLite index, its refusals and all-or-nothing
writes, against a real redis-server started on loopback (skipped with the reason without one)."""

from __future__ import annotations

import copy
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.errors import ConfigError, InputError
from cleaner.index import FORMAT_VERSION, Index
from cleaner.redis_index import REDIS_FORMAT, RedisLevel
from conftest import REPO
from test_cli import cleaner, read_docs, snapshot
from test_index import corpus  # noqa: F401 (the corpus fixture)

try:
    import redis
except ImportError:  # the test extra installs it; without it only the missing-extra test runs
    redis = None

needs_redis_py = pytest.mark.skipif(redis is None, reason="redis-py is not installed (pip install '.[test]' installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> str:
    """A private redis-server on a free loopback port, nothing saved to disk; its base URL."""
    if redis is None:
        pytest.skip("redis-py is not installed (pip install '.[test]' installs it)")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server on PATH (Debian: apt-get install redis-server; .ci/run installs it): the Redis index tests need a real server")
    folder = tmp_path_factory.mktemp("redis")
    for _ in range(3):
        port = free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None:
                    break  # the port was taken in between: try another
                time.sleep(0.05)
        else:
            server.kill()
            pytest.fail("redis-server did not answer within 5 s")
        if server.poll() is None:
            break
    else:
        pytest.fail("redis-server would not start on a free port")
    yield f"redis://127.0.0.1:{port}"
    client.close()
    server.terminate()
    server.wait(10)


@pytest.fixture
def url(redis_server) -> str:
    """Database 0 of the private server, emptied for each test."""
    redis.Redis.from_url(redis_server).flushall()
    return f"{redis_server}/0"


def split_corpus(corpus, folder: Path) -> list[Path]:
    """The test_index corpus as text files in three folders, in keep order."""
    parts = [corpus[:25], corpus[25:50], corpus[50:]]
    folders = []
    for number, part in enumerate(parts):
        target = folder / f"part{number}"
        target.mkdir(parents=True)
        for doc in part:
            (target / f"{doc.id}.txt").write_text(doc.text, encoding="utf-8")
        folders.append(target)
    return folders


def runs(location: str, parts: list[Path], tmp_path: Path, name: str, format: int) -> dict[str, object]:
    """Index part 0, run part 1 adding to it, run part 2 against it, then dupes, check, stats,
    and run part 0 again adding to it (its stored copies replaced); return everything printed or
    written, but the store's own format (checked here: the two stores' records differ)."""
    work = tmp_path / name
    work.mkdir()
    seen: dict[str, object] = {}

    def command(*args: str, code: int = 0) -> str:
        result = cleaner(*args, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (code, ""), (args, result.stderr)
        return result.stdout.replace(location, "INDEX")

    seen["build"] = command("index", "build", str(parts[0]), location, "--isolated")
    for label, part, extra in (("run1", parts[1], ["--update-index"]), ("run2", parts[2], []), ("run0", parts[0], ["--update-index"])):
        command("run", str(part), str(work / label), "--index", location, "--isolated", "-q", *extra)
        seen[label] = {path: data for path, data in snapshot(work / label).items() if path != "manifest.json"}
        manifest = json.loads((work / label / "manifest.json").read_text(encoding="utf-8"))
        seen[label + " manifest"] = {**manifest, "timings": None, "index": {**manifest["index"], "path": None}}
    seen["dupes"] = command("dupes", str(parts[2]), "--index", location, "--output-format", "json", "--isolated", code=1)
    seen["check"] = command("check", str(parts[2]), "--index", location, "--output-format", "json", "--isolated", code=1)
    stats = json.loads(command("index", "stats", location, "--output-format", "json", "--check"))
    assert stats["settings"].pop("format") == format
    seen["stats"] = {key: value for key, value in stats.items() if key not in ("bytes", "free_bytes", "path")}
    return seen


def test_sqlite_and_redis_indexes_give_byte_identical_outputs_on_a_split_corpus(corpus, tmp_path, url):
    parts = split_corpus(corpus, tmp_path / "in")
    sqlite = runs(str(tmp_path / "index.sqlite"), parts, tmp_path, "sqlite", FORMAT_VERSION)
    shared = runs(url, parts, tmp_path, "redis", REDIS_FORMAT)
    assert shared.keys() == sqlite.keys()
    for key in sqlite:
        assert shared[key] == sqlite[key], key
    later = [json.loads(line) for line in sqlite["run2"]["docs.jsonl"].decode().splitlines()]
    earlier = {path.stem for part in parts[:2] for path in part.iterdir()}
    assert any(doc["reason"] and doc["reason"]["duplicate_of"] in earlier for doc in later), "a copy of an indexed document is dropped"
    assert any(r["rule"] == "DD002" and r["duplicate_of"]["doc"] in earlier for doc in later for r in doc["removed"])
    assert sqlite["stats"]["integrity"] == "ok" and sqlite["stats"]["band_rows"] > 0


def test_a_redis_index_records_its_settings_and_refuses_others_as_sqlite_does(tmp_path, url, seeds):
    built = cleaner("index", "build", str(seeds), url, "--isolated", "-q", cwd=tmp_path)
    assert (built.returncode, built.stderr) == (0, "")
    refused = cleaner("run", str(seeds), str(tmp_path / "out"), "--index", url, "--threshold", "0.7", "--isolated", cwd=tmp_path)
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        2,
        "",
        f"cleaner: error: index {url} was built with threshold = 0.5 but this run uses 0.7; run with threshold = 0.5 or build a new index\n",
    )
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=f"index {url} was built with seed = 1 but this run uses 2"):
        Index.open(url, Settings(seed=2))
    redis.Redis.from_url(url).hset("cleaner:index:settings", "format", "99")
    with pytest.raises(ConfigError, match=f"has format 99, this cleaner reads format {REDIS_FORMAT}"):
        Index.open(url, Settings())


def test_a_missing_redis_index_is_refused_unless_it_is_made(tmp_path, url, seeds):
    missing = cleaner("run", str(seeds), str(tmp_path / "out"), "--index", url, "-q", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        f"cleaner: error: no index at {url}; build one with `cleaner index build IN {url}` or pass --update-index\n",
    )
    assert redis.Redis.from_url(url).dbsize() == 0, "a read-only run makes nothing"


def stored(url: str) -> tuple:
    with Index.open(url) as index:
        stats = index.stats(check=True)
    return stats.copies, stats.band_rows, stats.documents, stats.integrity, redis.Redis.from_url(url).hget("cleaner:index:state", "generation")


def test_a_redis_writer_refuses_when_another_writer_saved_first(corpus, url):
    settings = Settings()
    Index.open(url, settings, create=True).close()
    with Index.open(url, settings) as first, Index.open(url, settings) as second:
        deduplicate(copy.deepcopy(corpus[:5]), settings, stored=first.levels)
        deduplicate(copy.deepcopy(corpus[5:10]), settings, stored=second.levels)
        first.save()
        with pytest.raises(InputError, match=f"index {url} changed while this run read it \\(another writer\\); run again"):
            second.save()
        with pytest.raises(InputError, match="changed while this run read it"):
            second.levels["document"].exact("00" * 32)  # reads too stop rather than mix two states
    assert stored(url)[0]["document"] == 5


def test_an_error_inside_a_redis_save_leaves_the_index_as_it_was(corpus, url, monkeypatch):
    settings = Settings()
    with Index.open(url, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus[:20]), settings, stored=index.levels)
        index.save()
    before = stored(url)
    planned = RedisLevel.plan_save

    def fail_on_paragraphs(self, pipe, writes):
        change = planned(self, pipe, writes)  # the document level's writes are queued by now
        if self.level == "paragraph":
            raise OSError("disk full")
        return change

    monkeypatch.setattr(RedisLevel, "plan_save", fail_on_paragraphs)
    with Index.open(url, settings) as index:
        deduplicate(copy.deepcopy(corpus[20:]), settings, stored=index.levels)
        with pytest.raises(OSError, match="disk full"):
            index.save()
    assert stored(url) == before
    assert before[0]["document"] > 0 and before[3] == "ok"


KILLED_WRITER = """
import sys, time
from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.index import FORMAT_VERSION, Index
from cleaner.redis_index import RedisLevel
sys.path.insert(0, {tests!r})
from test_index import document

planned = RedisLevel.plan_save
def plan_then_wait(self, pipe, writes):
    change = planned(self, pipe, writes)
    print("inside", self.level, len(writes), flush=True)
    time.sleep(60)
RedisLevel.plan_save = plan_then_wait
docs = [document(f"new{{n}}", f"Paragraph one of document {{n}} says the council met on Monday to vote.\\n\\n" * 2 + "x " * n) for n in range(30)]
with Index.open({url!r}, Settings()) as index:
    deduplicate(docs, Settings(), stored=index.levels)
    index.save()
"""


def test_a_redis_writer_killed_inside_its_save_leaves_the_index_whole(corpus, url):
    settings = Settings()
    with Index.open(url, settings, create=True) as index:
        deduplicate(copy.deepcopy(corpus[:10]), settings, stored=index.levels)
        index.save()
    before = stored(url)
    script = KILLED_WRITER.format(tests=str(REPO / "tests"), url=url)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    line = writer.stdout.readline()
    assert line.startswith("inside document"), line
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert stored(url) == before
    with Index.open(url, settings) as index:  # and the next writer is not refused for it
        deduplicate(copy.deepcopy(corpus[10:20]), settings, stored=index.levels)
        index.save()
    assert stored(url)[0]["document"] > before[0]["document"]


def test_a_run_whose_output_cannot_be_written_adds_nothing_to_the_index(tmp_path, url, seeds):
    cleaner("index", "build", str(seeds / "000_ec013513393c3d35.txt"), url, "-q", cwd=tmp_path)
    before = stored(url)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("not cleaner's\n")
    refused = cleaner("run", str(seeds), str(taken), "--index", url, "--update-index", "-q", cwd=tmp_path)
    assert refused.returncode == 2 and "cleaner: error:" in refused.stderr
    assert stored(url) == before


def test_a_read_only_redis_user_runs_checks_and_reports_but_cannot_add(tmp_path, url, seeds):
    assert cleaner("index", "build", str(seeds), url, "--isolated", "-q", cwd=tmp_path).returncode == 0
    admin = redis.Redis.from_url(url)
    admin.acl_setuser("reader", enabled=True, passwords=["+s3cret"], keys=["cleaner:*"], categories=["+@read", "+@transaction", "+@connection"])
    reader = url.replace("redis://", "redis://reader:s3cret@")
    shown = url.replace("redis://", "redis://reader:***@")
    before = stored(url)
    run = cleaner("run", str(seeds), str(tmp_path / "out"), "--index", reader, "--isolated", "-q", cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    assert [doc["status"] for doc in read_docs(tmp_path / "out")] == ["kept"] * 5, "indexed documents are not their own duplicates"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["index"] == {"path": shown, "stored": before[0], "updated": False}
    assert "s3cret" not in (tmp_path / "out" / "manifest.json").read_text(encoding="utf-8")
    assert cleaner("check", str(seeds), "--index", reader, "--isolated", cwd=tmp_path).returncode in (0, 1)
    assert cleaner("dupes", str(seeds), "--index", reader, "--isolated", cwd=tmp_path).returncode == 1
    assert cleaner("index", "stats", reader, cwd=tmp_path).returncode == 0
    denied = cleaner("run", str(seeds), str(tmp_path / "up"), "--index", reader, "--update-index", "--isolated", "-q", cwd=tmp_path)
    assert denied.returncode == 2
    assert denied.stderr == (
        f"cleaner: error: index {shown}: this user has no permissions to run the 'hset' command; "
        "use a Redis user that may write, or leave out --update-index\n"
    )
    assert stored(url) == before


def test_a_redis_url_without_redis_py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigError, match=r"needs redis-py: install cleaner's redis extra, pip install 'cleaner\[redis\]'"):
        Index.open("redis://127.0.0.1:1/0", Settings())


@needs_redis_py
def test_an_unreachable_redis_server_is_an_error_that_names_it(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = cleaner("run", str(REPO / "seeds"), str(tmp_path / "out"), "--index", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"cleaner: error: cannot reach the index at {url} (")
    assert result.stderr.endswith("); start the Redis server or fix the URL\n")
