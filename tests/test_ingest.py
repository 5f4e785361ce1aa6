from __future__ import annotations

import builtins
import codecs
import hashlib
import os
import gzip
import json
from pathlib import Path

import pytest

from cleaner.config import Settings
from cleaner.errors import InputError
from cleaner.ingest import discover, read_file

SETTINGS = Settings()

ARTICLE_HTML = """<!DOCTYPE html><html lang="en"><head>
<title>Villages retaken | Example News</title>
<meta property="og:title" content="Villages retaken after night of shelling">
<meta property="og:url" content="https://news.example.com/world/villages-retaken">
<meta property="article:published_time" content="2020-11-04T10:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Villages retaken after night of shelling</h1>
<p>The defence ministry said on Wednesday that its forces had retaken seven villages after a night of
heavy shelling along the southern front, and that fighting continued in several directions.</p>
<p>Officials said civilians had been moved away from the front line and that the water supply of two
towns had been restored by engineers working through the night under fire.</p>
<p>Observers from the international mission said they could not confirm the figures independently,
and called on both sides to respect the ceasefire agreed in the capital last month.</p>
</article>
<footer>Copyright 2020 Example News. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_all(root: Path, settings: Settings = SETTINGS):
    return [doc for file in discover([root]).files for doc in read_file(file, settings)]


def test_ids_are_relative_paths_without_extension_in_sorted_order(tmp_path):
    write(tmp_path / "b.txt", "b")
    write(tmp_path / "sub/a.txt", "a")
    write(tmp_path / "a.html", ARTICLE_HTML)
    found = discover([tmp_path])
    assert [(f.id, f.relpath, f.format) for f in found.files] == [
        ("a", "a.html", "html"),
        ("b", "b.txt", "txt"),
        ("sub/a", "sub/a.txt", "txt"),
    ]


def test_colliding_ids_keep_their_extension(tmp_path):
    write(tmp_path / "story.txt", "x")
    write(tmp_path / "story.html", ARTICLE_HTML)
    assert sorted(f.id for f in discover([tmp_path]).files) == ["story.html", "story.txt"]


def test_hidden_and_unsupported_files_are_passed_over_with_a_reason(tmp_path):
    write(tmp_path / ".git/config", "x")
    write(tmp_path / ".hidden.txt", "x")
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff")
    write(tmp_path / "keep.txt", "x")
    found = discover([tmp_path])
    assert [f.id for f in found.files] == ["keep"]
    assert found.skipped == [("photo.jpg", "unsupported file type")]


def test_a_missing_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        discover([tmp_path / "nope"])


def test_an_excluded_output_folder_inside_the_input_is_not_read(tmp_path):
    write(tmp_path / "a.txt", "a")
    write(tmp_path / "out/text/a.txt", "a")
    assert [f.id for f in discover([tmp_path], exclude=[tmp_path / "out"]).files] == ["a"]


def test_text_files_are_read_with_source_and_hash(tmp_path):
    write(tmp_path / "a.txt", "Hello\nworld")
    [doc] = read_all(tmp_path)
    assert (doc.id, doc.text, doc.status) == ("a", "Hello\nworld", "kept")
    assert doc.source.to_record() == {
        "path": "a.txt",
        "format": "txt",
        "sha256": hashlib.sha256(b"Hello\nworld").hexdigest(),
        "size": 11,
        "record": None,
    }


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b"caf\xe9 au lait\n", "invalid-utf8", "byte 0xe9 at offset 3 (line 1) is not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary", "binary data"),
        (b"", "empty", "no text"),
        (b"  \n\t\n", "empty", "no text"),
    ],
)
def test_bad_text_files_become_error_records(tmp_path, data, reason, detail):
    write(tmp_path / "bad.txt", data)
    [doc] = read_all(tmp_path)
    assert doc.status == "error"
    assert (doc.reason.stage, doc.reason.name) == ("ingest", reason)
    assert detail in doc.reason.detail


def test_utf8_bom_and_utf16_files_are_decoded(tmp_path):
    write(tmp_path / "bom.txt", codecs.BOM_UTF8 + "Ünïcode".encode("utf-8"))
    write(tmp_path / "wide.txt", "Ünïcode wide".encode("utf-16"))
    assert [doc.text for doc in read_all(tmp_path)] == ["Ünïcode", "Ünïcode wide"]


def refuse_to_open(monkeypatch, name: str) -> None:
    """Make opening files called `name` fail as a file without read permission does (even for root)."""
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).name == name:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)


def test_an_unreadable_file_is_an_error_record(tmp_path, monkeypatch):
    write(tmp_path / "locked.txt", "secret")
    refuse_to_open(monkeypatch, "locked.txt")
    [doc] = read_all(tmp_path)
    assert (doc.status, doc.reason.name, doc.reason.detail) == ("error", "unreadable", "Permission denied")


def test_html_gives_main_text_and_metadata(tmp_path):
    write(tmp_path / "page.html", ARTICLE_HTML)
    [doc] = read_all(tmp_path)
    assert doc.status == "kept"
    assert "retaken seven villages" in doc.text
    assert "Copyright" not in doc.text and "Sport" not in doc.text
    assert doc.meta["title"] == "Villages retaken after night of shelling"
    assert doc.meta["url"] == "https://news.example.com/world/villages-retaken"
    assert doc.meta["date"] == "2020-11-04"
    assert "filedate" not in doc.meta


def test_html_without_main_text_or_not_html_is_an_error_record(tmp_path):
    write(tmp_path / "empty.html", "<html><head><title>x</title></head><body><div></div></body></html>")
    write(tmp_path / "notes.htm", "just some words, not a page")
    docs = read_all(tmp_path)
    assert [(d.status, d.reason.name) for d in docs] == [("error", "no-main-text"), ("error", "not-html")]


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def test_jsonl_records_use_the_id_field_or_path_and_line(tmp_path):
    write(tmp_path / "feed.jsonl", jsonl({"id": "x1", "text": "one", "url": "u"}, "", {"text": "two"}))
    docs = read_all(tmp_path)
    assert [(d.id, d.text, d.meta, d.source.record) for d in docs] == [
        ("x1", "one", {"url": "u"}, 1),
        ("feed.jsonl#3", "two", {}, 3),
    ]


def test_jsonl_text_and_id_fields_are_configurable(tmp_path):
    write(tmp_path / "feed.jsonl", jsonl({"key": 7, "body": "hello"}))
    [doc] = read_all(tmp_path, Settings(text_field="body", id_field="key"))
    assert (doc.id, doc.text) == ("7", "hello")


def test_a_bad_jsonl_line_fails_alone(tmp_path):
    write(tmp_path / "feed.jsonl", jsonl({"text": "ok"}, '{"text": broken', [1, 2], {"body": "x"}, {"text": "ok too"}))
    docs = read_all(tmp_path)
    assert [(d.id, d.status, d.reason and d.reason.name) for d in docs] == [
        ("feed.jsonl#1", "kept", None),
        ("feed.jsonl#2", "error", "malformed-json"),
        ("feed.jsonl#3", "error", "not-an-object"),
        ("feed.jsonl#4", "error", "missing-text-field"),
        ("feed.jsonl#5", "kept", None),
    ]
    assert "--text-field" in docs[3].reason.detail


def test_gzipped_jsonl_is_read_and_a_truncated_one_keeps_its_good_lines(tmp_path):
    payload = gzip.compress(jsonl(*({"text": f"record {i} " * 50} for i in range(200))).encode())
    write(tmp_path / "whole.jsonl.gz", payload)
    write(tmp_path / "cut.jsonl.gz", payload[: len(payload) // 2])
    docs = read_all(tmp_path)
    whole = [d for d in docs if d.source.path == "whole.jsonl.gz"]
    cut = [d for d in docs if d.source.path == "cut.jsonl.gz"]
    assert len(whole) == 200 and all(d.status == "kept" for d in whole)
    assert cut[-1].status == "error" and cut[-1].reason.name == "truncated"
    assert 0 < len(cut) - 1 < 200 and all(d.status == "kept" for d in cut[:-1])


def test_lone_surrogates_in_jsonl_ids_and_meta_are_replaced(tmp_path):
    write(tmp_path / "feed.jsonl", '{"id": "a\\ud800", "text": "t", "title": "b\\udfff"}\n')
    [doc] = read_all(tmp_path)
    assert (doc.id, doc.meta["title"]) == ("a\ufffd", "b\ufffd")
