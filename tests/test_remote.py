"""Inputs and outputs at fsspec URLs, on real fsspec filesystems that need no network: file://,
http:// from a server on loopback (tests/http_server.py) and memory:// (in this process)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest
from typer.testing import CliRunner

from cleaner import Settings, clean_corpus
from cleaner.cli import app
from cleaner.errors import ConfigError, InputError, OutputError
from cleaner.ingest import discover
from cleaner.remote import RemoteOutput

from conftest import BACKGROUND, EDITED, SEEDS
from http_server import serve_folder
from test_ingest import ARTICLE_HTML, write
from test_reliability import snapshot
from test_resume import interrupted_run

needs_aiohttp = pytest.mark.skipif(
    "aiohttp" not in sys.modules and __import__("importlib.util").util.find_spec("aiohttp") is None,
    reason="fsspec reads http:// with aiohttp: pip install aiohttp",
)


def corpus(root: Path) -> Path:
    """The seeds, nested folders, every format, a name with a space, a shared stem, hidden and
    unsupported files: what listing and ids must get right."""
    for seed in sorted(SEEDS.glob("*.txt")):
        write(root / seed.name, seed.read_bytes())
    write(root / "news/2020/story.txt", f"{BACKGROUND}\n\nA story of its own, told in one more paragraph.")
    write(root / "news/2020/story.html", ARTICLE_HTML)
    write(root / "news/with space.txt", f"{EDITED}\n\nAnother closing line for this copy.")
    records = [{"id": f"wire-{n}", "text": f"{BACKGROUND}\n\nWire item {n}, with a line of its own."} for n in range(3)]
    feed = "".join(json.dumps(record) + "\n" for record in records)
    write(root / "feeds/wire.jsonl", feed)
    write(root / "feeds/archive.jsonl.gz", gzip.compress(feed.replace("wire-", "old-").encode("utf-8"), mtime=0))
    write(root / ".hidden.txt", "never read")
    write(root / ".cache/note.txt", "never read")
    write(root / "photo.jpg", b"\xff\xd8\xff\xe0")
    return root


def file_url(path: Path) -> str:
    """A file:// URL as fsspec reads it: the path as it is (fsspec does not %-decode file URLs)."""
    return f"file://{path}"


def listed(discovery) -> list[tuple[str, str, str]]:
    return [(file.relpath, file.id, file.format) for file in discovery.files]


def outputs_match(local: Path, other: dict[str, bytes]) -> None:
    """`other` (every file of an output) is `local`'s output byte for byte, the manifest aside;
    the manifests differ only in timings, the input paths and the engine's size."""
    expected = {p.relative_to(local).as_posix(): p.read_bytes() for p in sorted(local.rglob("*")) if p.is_file()}
    other = dict(other)
    manifests = [json.loads(files.pop("manifest.json")) for files in (expected, other)]
    assert other == expected
    for manifest in manifests:
        del manifest["timings"], manifest["inputs"]["paths"], manifest["engine"]
    assert manifests[0] == manifests[1]


def test_a_url_is_listed_with_the_files_ids_and_skips_of_the_same_local_folder(tmp_path):
    root = corpus(tmp_path / "in")
    # not over HTTP: Python's http.server quotes such a name as UTF-8 of a surrogate, unlike a real server
    write(Path(os.fsdecode(os.fsencode(root / "news") + b"/caf\xe9.txt")), "A name that is not UTF-8, and a story about coffee.")
    local = discover([root])
    remote = discover([file_url(root) + "/"])
    assert listed(remote) == listed(local)
    assert remote.skipped == local.skipped == [("photo.jpg", "unsupported file type")]
    assert {"news/2020/story.txt", "news/2020/story.html", "news/with space", "news/caf%E9", "feeds/archive"} <= {f.id for f in remote.files}
    assert all(isinstance(f.path, str) and f.path.startswith("file://") for f in remote.files)
    assert [f.size for f in remote.files] == [f.stat_size() for f in local.files]
    named = discover([file_url(root / "news/with space.txt"), file_url(root / "photo.jpg")])
    assert listed(named) == listed(discover([root / "news/with space.txt", root / "photo.jpg"]))
    assert listed(named) == [("photo.jpg", "photo.jpg", "txt"), ("with space.txt", "with space", "txt")]  # named: read as text


def test_an_output_inside_a_url_input_is_not_read_as_input(tmp_path):
    root = corpus(tmp_path / "in")
    clean_corpus([SEEDS], root / "out", Settings(workers=1))
    expected = listed(discover([root], exclude=[root / "out"]))
    assert "out/docs.jsonl" not in {relpath for relpath, _, _ in expected}
    assert listed(discover([file_url(root) + "/"], exclude=[root / "out"])) == expected
    assert listed(discover([file_url(root) + "/"], exclude=[file_url(root / "out")])) == expected
    assert "out/docs" in {f.id for f in discover([file_url(root) + "/"]).files}


def test_a_missing_url_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"input 'file://.*/nope/' does not exist"):
        discover([file_url(tmp_path / "nope") + "/"])


@needs_aiohttp
def test_file_and_http_inputs_give_the_local_output_byte_for_byte(tmp_path):
    root = corpus(tmp_path / "in")
    clean_corpus([root], tmp_path / "local", Settings(workers=1))
    url = file_url(root) + "/"
    result = clean_corpus([url], tmp_path / "file", Settings(workers=1))
    assert result.manifest["inputs"]["paths"] == [url]
    outputs_match(tmp_path / "local", snapshot_all(tmp_path / "file"))
    with serve_folder(root) as http:
        result = clean_corpus([http], tmp_path / "http", Settings(workers=2))  # read in worker processes
    assert result.manifest["inputs"]["paths"] == [http]
    outputs_match(tmp_path / "local", snapshot_all(tmp_path / "http"))


def snapshot_all(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@needs_aiohttp
def test_a_file_the_store_fails_to_serve_is_an_error_record_and_the_run_goes_on(tmp_path):
    root = corpus(tmp_path / "in")
    with serve_folder(root, failing=("/news/with%20space.txt",), cut=("/news/2020/story.txt",)) as http:
        result = clean_corpus([http], tmp_path / "out", Settings(workers=1))
    assert [(doc.id, doc.reason.name) for doc in result.errors] == [("news/2020/story.txt", "unreadable"), ("news/with space", "unreadable")]
    cut, refused = (doc.reason.detail for doc in result.errors)
    assert cut.startswith("ClientPayloadError: ") and "content length" in cut  # aiohttp's own words, cut short mid-body
    assert refused == "no such file at the URL, or the store refused to serve it"
    assert result.counts["kept"] + result.counts["dropped"] == result.manifest["inputs"]["documents"] - 2


@pytest.fixture
def bucket():
    """A fresh prefix of fsspec's in-memory filesystem (one per process: the run reads it with one worker)."""
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    fsspec.filesystem("memory").rm(f"/{name}", recursive=True)


def memory_files(url: str) -> dict[str, bytes]:
    fs, path = fsspec.core.url_to_fs(url)
    return {name[len(path) + 1 :]: fs.cat_file(name) for name in sorted(fs.find(path))}


def test_an_output_at_a_url_is_the_local_output_and_a_later_run_replaces_it_whole(tmp_path, bucket):
    root = corpus(tmp_path / "in")
    clean_corpus([root], tmp_path / "local", Settings(workers=1))
    result = clean_corpus([root], f"{bucket}/out", Settings(workers=1))
    assert result.out == f"{bucket}/out"
    outputs_match(tmp_path / "local", memory_files(f"{bucket}/out"))
    (root / "news/with space.txt").unlink()
    clean_corpus([root], tmp_path / "smaller", Settings(workers=1))
    clean_corpus([root], f"{bucket}/out", Settings(workers=1))
    files = memory_files(f"{bucket}/out")
    assert "text/news/with space.txt" not in files  # the previous output's files are gone
    outputs_match(tmp_path / "smaller", files)
    assert sorted(memory_files(bucket)) == sorted(f"out/{name}" for name in files)  # no staging prefix left


def test_a_move_cut_short_is_finished_by_the_next_run_and_an_unfinished_upload_dropped(tmp_path, bucket, monkeypatch):
    root = corpus(tmp_path / "in")
    out = f"{bucket}/out"
    clean_corpus([root], out, Settings(workers=1))
    previous = memory_files(out)
    (root / "news/with space.txt").unlink()
    clean_corpus([root], tmp_path / "smaller", Settings(workers=1))
    copy = RemoteOutput._copy

    def cut_short(self, sources, targets, upload):
        if not upload:  # the move into OUT: copy one file, then fail as a lost connection would
            copy(self, sources[:1], targets[:1], upload)
            raise ConnectionError("connection reset")
        copy(self, sources, targets, upload)

    with monkeypatch.context() as patch:
        patch.setattr(RemoteOutput, "_copy", cut_short)
        with pytest.raises(OutputError, match=r"the next run writing .* finishes the move"):
            clean_corpus([root], out, Settings(workers=1))
    left = memory_files(bucket)
    assert "out/manifest.json" not in left and len([n for n in left if n.startswith("out/")]) == 1
    assert any(name.startswith(".out.cleaner-tmp-") and name.endswith("/manifest.json") for name in left)
    RemoteOutput(out).check()  # what the next run does first
    outputs_match(tmp_path / "smaller", memory_files(out))
    assert all(name.startswith("out/") for name in memory_files(bucket))

    # A staging prefix without its manifest was cut short while uploading: dropped, OUT kept.
    fs, path = fsspec.core.url_to_fs(bucket)
    fs.pipe_file(f"{path}/.out.cleaner-tmp-1-deadbeef/docs.jsonl", b"{}\n")
    kept = memory_files(out)
    RemoteOutput(out).check()
    assert memory_files(bucket) == {f"out/{name}": data for name, data in kept.items()}
    assert previous != kept


def test_an_output_prefix_cleaner_did_not_write_is_refused(tmp_path, bucket):
    fs, path = fsspec.core.url_to_fs(bucket)
    fs.pipe_file(f"{path}/photos/cat.jpg", b"\xff\xd8")
    with pytest.raises(OutputError, match=r"output 'memory://.*/photos' is not empty and holds no cleaner manifest.json"):
        clean_corpus([SEEDS], f"{bucket}/photos", Settings(workers=1))
    assert memory_files(bucket) == {"photos/cat.jpg": b"\xff\xd8"}


def test_resume_reuses_the_files_of_url_inputs(tmp_path, monkeypatch):
    root = corpus(tmp_path / "in")
    url = file_url(root) + "/"
    clean_corpus([url], tmp_path / "reference", Settings(workers=1))
    interrupted_run(monkeypatch, [url], tmp_path / "out", files=4)
    result = clean_corpus([url], tmp_path / "out", Settings(workers=1), resume=True)
    assert result.reused_files == 4
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "reference")


def test_the_cli_reads_and_writes_urls_and_refuses_to_resume_one(tmp_path, bucket):
    root = corpus(tmp_path / "in")
    runner = CliRunner()
    result = runner.invoke(app, ["run", file_url(root), f"{bucket}/out", "--workers", "1", "-q"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert json.loads(memory_files(f"{bucket}/out")["manifest.json"])["inputs"]["paths"] == [file_url(root)]
    result = runner.invoke(app, ["run", str(root), f"{bucket}/out", "--resume"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"cleaner: error: --resume needs a local OUT, not '{bucket}/out': write to a local folder to resume a run\n",
    )


def test_without_fsspec_a_url_names_the_extra_and_a_local_run_does_not_need_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # `import fsspec` now fails as if it were missing
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    result = CliRunner().invoke(app, ["run", "s3://bucket/news/", str(tmp_path / "out")])
    assert (result.exit_code, result.stderr) == (
        2,
        "cleaner: error: reading or writing 's3://bucket/news/' needs fsspec, an optional extra: pip install 'cleaner[fsspec]'\n",
    )
    result = CliRunner().invoke(app, ["run", str(SEEDS), str(tmp_path / "out"), "--workers", "1", "-q"])
    assert result.exit_code == 0, result.stderr


def test_a_protocol_whose_package_is_missing_is_named_with_what_to_install(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot open 'nosuchfs://bucket/news/': Protocol not known: nosuchfs; for nosuchfs:// URLs install"):
        discover(["nosuchfs://bucket/news/"])


@needs_aiohttp
def test_a_store_gets_its_options_from_fsspec_environment_variables(tmp_path):
    """Credentials, endpoints and headers are fsspec's configuration: FSSPEC_<PROTOCOL> (a JSON
    object of the filesystem's options) in the environment of the run, which its worker
    processes inherit. Without them the store refuses and the run says so."""
    root = corpus(tmp_path / "in")
    clean_corpus([root], tmp_path / "local", Settings(workers=1))

    def run(out: str, **env: str) -> subprocess.CompletedProcess[str]:
        clean_env = {key: value for key, value in os.environ.items() if not key.startswith("FSSPEC")}
        command = [sys.executable, "-m", "cleaner", "run", http, str(tmp_path / out), "-q", "-w", "2"]
        return subprocess.run(command, capture_output=True, text=True, env={**clean_env, **env}, cwd=tmp_path)

    with serve_folder(root, token="s3cret") as http:
        refused = run("refused")
        allowed = run("allowed", FSSPEC_HTTP=json.dumps({"headers": {"Authorization": "Bearer s3cret"}}))
    assert (refused.returncode, allowed.returncode, allowed.stderr) == (2, 0, "")
    assert refused.stderr == (
        f"cleaner: error: input {http!r} does not exist, or the store refused to show it; pass a file or a folder "
        "(prefix) of documents, and check the store's credentials and options (FSSPEC_HTTP, fsspec's configuration)\n"
    )
    outputs_match(tmp_path / "local", snapshot_all(tmp_path / "allowed"))


def test_report_explain_and_verify_read_an_output_at_a_url(tmp_path, bucket):
    """They download OUT into a temporary folder (only the files they read); `report` and
    `run --report` put report.html into OUT; messages name OUT's URL, never the copy."""
    root = corpus(tmp_path / "in")
    runner = CliRunner()
    out = f"{bucket}/out"
    result = runner.invoke(app, ["run", str(root), out, "--workers", "1", "--report", "-q"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    runner.invoke(app, ["run", str(root), str(tmp_path / "local"), "--workers", "1", "--report", "-q"])
    files = memory_files(out)
    assert "report.html" in files and files["docs.jsonl"] == (tmp_path / "local" / "docs.jsonl").read_bytes()
    fsspec.filesystem("memory").rm_file(f"{out}/report.html")
    result = runner.invoke(app, ["report", out])
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{out}/report.html\n", "")
    assert memory_files(out)["report.html"].startswith(b"<!DOCTYPE html>")
    doc_id = json.loads(files["docs.jsonl"].splitlines()[0])["id"]
    for command in (["explain", "OUT", doc_id, "--output-format", "json"], ["verify", "OUT"]):
        remote = runner.invoke(app, [out if part == "OUT" else part for part in command])
        local = runner.invoke(app, [str(tmp_path / "local") if part == "OUT" else part for part in command])
        assert (remote.exit_code, remote.stderr) == (0, "")
        assert remote.stdout == local.stdout.replace(str(tmp_path / "local"), out)
    result = runner.invoke(app, ["explain", out, "nope"])
    assert (result.exit_code, result.stderr) == (2, f"cleaner: error: no document 'nope' in {out}/docs.jsonl; ids are listed in its `id` fields\n")
    result = runner.invoke(app, ["verify", f"{bucket}/nothing"])
    assert (result.exit_code, result.stderr) == (
        2, f"cleaner: error: '{bucket}/nothing' holds no cleaner manifest.json; pass an output written by `cleaner run`\n"
    )
