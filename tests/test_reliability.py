"""The bad-input matrix: every kind of broken input through the real pipeline, outcome exact.

Each case runs `clean_corpus` (or the `cleaner` command) on a folder holding the bad input and
asserts what every document became, and that the output keeps its invariants (`verify_output`).
Ingest options come from `Settings` (`encoding_fallback`, `max_file_size`, `follow_symlinks`).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from cleaner import Settings, clean_corpus
from cleaner.errors import ConfigError
from cleaner.ingest import MAX_FILE_BYTES, InputFile, discover, read_file
from cleaner.ingest.text import fallback_codec
from cleaner.verify import verify_output
from cleaner.write import text_path

from conftest import SEEDS
from test_ingest import refuse_to_open

ARTICLE = (
    "<html><head><title>Harbour reopens</title></head><body><article>"
    "<p>The harbour reopened on Monday after three weeks of repairs to the sea wall, the port authority said.</p>"
    "<p>Fishing boats were the first to leave, followed by the ferry to the islands, which had been cancelled since the storm.</p>"
    "</article></body></html>"
)


def build(folder: Path, files: dict[str | bytes, bytes | str]) -> Path:
    """Write files (names as str, or bytes for names that are not UTF-8) under folder."""
    for name, data in files.items():
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name)) if isinstance(name, bytes) else folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return folder


def read_docs(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "docs.jsonl").read_bytes().decode("utf-8").splitlines()
    return {doc["id"]: doc for doc in map(json.loads, lines)}


def run(tmp_path: Path, files: dict[str | bytes, bytes | str], settings: Settings | None = None) -> tuple[dict, dict]:
    """Clean a folder holding `files`; check the output's invariants; return its docs and manifest."""
    corpus = build(tmp_path / "in", files)
    out = tmp_path / "out"
    clean_corpus([corpus], out, settings or Settings())
    assert verify_output(out) == []
    return read_docs(out), json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def outcomes(docs: dict[str, dict]) -> dict[str, tuple[str, str | None]]:
    return {doc_id: (doc["status"], doc["reason"] and doc["reason"]["name"]) for doc_id, doc in docs.items()}


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


# -- encodings ---------------------------------------------------------------------------------


def test_invalid_utf8_is_an_error_record_that_names_the_byte(tmp_path):
    docs, manifest = run(tmp_path, {"latin1.txt": "Caf\xe9 au lait\nsecond line \xe9".encode("latin-1")})
    assert outcomes(docs) == {"latin1": ("error", "invalid-utf8")}
    assert docs["latin1"]["reason"]["detail"] == "byte 0xe9 at offset 3 (line 1) is not UTF-8; re-encode the file as UTF-8"
    assert docs["latin1"]["text"] == "" and manifest["counts"] == {"kept": 0, "dropped": 0, "error": 1}


# The one file of the BBC corpus that is not UTF-8 (sport/199.txt) spells the pound sign 0xA3.
BBC_CP1252 = b"Chelsea have written off a possible transfer fee for Mutu, a \xa315.8m signing from Parma in 2003."


def test_a_fallback_encoding_reads_legacy_bytes_and_says_so(tmp_path):
    docs, manifest = run(
        tmp_path,
        {
            "bbc.txt": BBC_CP1252,
            "quotes.txt": b"\x93Quoted\x94 \x96 and an unassigned byte \x81 here.",
            "utf8.txt": "Caf\u00e9 in UTF-8 needs no fallback.",
            "feed.jsonl": b'{"text": "Gr\xfc\xdfe aus M\xfcnchen"}\n{"text": "fine"}\n',
        },
        Settings(encoding_fallback="windows-1252"),
    )
    assert set(outcomes(docs).values()) == {("kept", None)}
    assert sorted(docs) == ["bbc", "feed.jsonl#1", "feed.jsonl#2", "quotes", "utf8"]
    assert "a \u00a315.8m signing" in docs["bbc"]["text"]
    assert docs["bbc"]["fixes"][0] == {
        "rule": "NM010",
        "name": "invalid-bytes",
        "detail": "not UTF-8 (byte 0xa3 at offset 61, line 1): decoded as windows-1252, the fallback encoding",
    }
    assert docs["feed.jsonl#1"]["text"] == "Gr\u00fc\u00dfe aus M\u00fcnchen"
    assert docs["feed.jsonl#1"]["fixes"][0]["detail"].startswith("not UTF-8 (byte 0xfc at offset 12, line 1)")
    # windows-1252 leaves 0x81 unassigned: it decodes to its Latin-1 code point rather than failing.
    assert docs["quotes"]["text"] == "\u201cQuoted\u201d \u2013 and an unassigned byte \x81 here."
    assert docs["quotes"]["fixes"][0]["detail"].startswith("not UTF-8 (byte 0x93 at offset 0, line 1)")
    assert all(fix["rule"] != "NM010" for fix in docs["utf8"]["fixes"])
    assert manifest["fixes"]["NM010"] == 3


def test_latin1_and_multibyte_legacy_files_decode_with_the_fallback_they_name(tmp_path):
    files = {"tokyo.txt": "東京の天気は晴れです。".encode("shift_jis"), "bad.txt": b"\x82\xa0 ok \xff\xfe"}
    docs, _ = run(tmp_path, files, Settings(encoding_fallback="shift_jis"))
    assert docs["tokyo"]["text"] == "東京の天気は晴れです。"
    assert outcomes(docs)["bad"] == ("error", "invalid-utf8")
    assert docs["bad"]["reason"]["detail"] == (
        "byte 0x82 at offset 0 (line 1) is not UTF-8, and byte 0xff at offset 6 is not shift_jis either; "
        "re-encode the file as UTF-8"
    )


def test_latin1_files_are_errors_by_default_and_text_with_latin1_as_fallback(tmp_path):
    latin1 = "\u00c5ngstr\u00f6m, na\u00efve fa\u00e7ade".encode("latin-1")
    docs, _ = run(tmp_path / "default", {"latin1.txt": latin1})
    assert outcomes(docs) == {"latin1": ("error", "invalid-utf8")}
    docs, _ = run(tmp_path / "fallback", {"latin1.txt": latin1}, Settings(encoding_fallback="latin-1"))
    assert docs["latin1"]["text"] == "\u00c5ngstr\u00f6m, na\u00efve fa\u00e7ade"
    assert docs["latin1"]["fixes"][0]["rule"] == "NM010"


def test_an_unknown_fallback_encoding_is_a_config_error():
    with pytest.raises(ConfigError, match="encoding-fallback 'klingon' is not an encoding Python knows"):
        fallback_codec("klingon")


def test_utf16_with_a_bom_is_read_and_without_one_is_binary(tmp_path):
    docs, _ = run(
        tmp_path,
        {
            "le.txt": codecs.BOM_UTF16_LE + "Wide text, little end.".encode("utf-16-le"),
            "be.txt": codecs.BOM_UTF16_BE + "Wide text, big end.".encode("utf-16-be"),
            "page.html": codecs.BOM_UTF16_LE + ARTICLE.encode("utf-16-le"),
            "nobom.txt": "No byte-order mark.".encode("utf-16-le"),
            "odd.txt": codecs.BOM_UTF16_LE + b"a\x00b",
        },
    )
    assert outcomes(docs) == {
        "be": ("kept", None),
        "le": ("kept", None),
        "nobom": ("error", "binary"),
        "odd": ("error", "invalid-utf16"),
        "page": ("kept", None),
    }
    assert (docs["le"]["text"], docs["be"]["text"]) == ("Wide text, little end.", "Wide text, big end.")
    assert "sea wall" in docs["page"]["text"]


def test_html_is_decoded_by_its_declared_charset(tmp_path):
    page = ARTICLE.replace("<head>", '<head><meta charset="iso-8859-1">').replace("Monday", "Montag f\u00fcr")
    docs, _ = run(tmp_path, {"page.html": page.encode("latin-1"), "undeclared.html": ARTICLE.replace("Monday", "l\u00fcndi").encode("latin-1")})
    assert outcomes(docs) == {"page": ("kept", None), "undeclared": ("error", "invalid-utf8")}
    assert "Montag f\u00fcr" in docs["page"]["text"]
    assert docs["page"]["meta"]["encoding"] == "iso-8859-1"


# -- binary, empty, too large -------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"


def test_binary_files_are_error_records_in_every_format(tmp_path):
    docs, _ = run(tmp_path, {"image.txt": PNG, "image.html": PNG, "image.jsonl": PNG, "zipped.jsonl.gz": gzip.compress(PNG)})
    assert outcomes(docs) == {
        "image.html": ("error", "binary"),
        "image.jsonl": ("error", "binary"),
        "image.txt": ("error", "binary"),
        "zipped.jsonl.gz": ("error", "binary"),
    }


def test_empty_and_whitespace_only_files_are_error_records_in_every_format(tmp_path):
    docs, manifest = run(
        tmp_path,
        {
            "empty.txt": b"",
            "blank.txt": b" \n\t\r\n  \n",
            "empty.html": b"",
            "blank.html": b"\n\n ",
            "empty.jsonl": b"",
            "blank.jsonl": b"\n \n\n",
            "empty.jsonl.gz": gzip.compress(b""),
            "blank-text.jsonl": jsonl({"text": "  \n\n\t"}),
            "invisible.txt": "\u200b\u00ad\ufeff",
        },
    )
    assert outcomes(docs) == {
        "blank.html": ("error", "empty"),
        "blank.jsonl": ("error", "empty"),
        "blank-text.jsonl#1": ("error", "empty"),
        "blank.txt": ("error", "empty"),
        "empty.html": ("error", "empty"),
        "empty.jsonl": ("error", "empty"),
        "empty.jsonl.gz": ("error", "empty"),
        "empty.txt": ("error", "empty"),
        "invisible": ("error", "empty"),
    }
    assert docs["blank.jsonl"]["reason"]["detail"] == "the file has no records"
    assert docs["invisible"]["reason"] == {"stage": "normalise", "rule": None, "name": "empty", "detail": "no text left after normalisation"}
    assert manifest["counts"]["error"] == 9


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "small.txt").write_text("A small article.")
    with open(corpus / "huge.txt", "wb") as handle:  # sparse: 65 MiB on paper, no disk used
        handle.truncate(MAX_FILE_BYTES + 1024 * 1024)
    clean_corpus([corpus], tmp_path / "out", Settings())
    assert verify_output(tmp_path / "out") == []
    docs = read_docs(tmp_path / "out")
    assert outcomes(docs) == {"huge": ("error", "too-large"), "small": ("kept", None)}
    size = MAX_FILE_BYTES + 1024 * 1024
    assert docs["huge"]["reason"]["detail"] == (
        f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes; "
        "raise max-file-size to read it, or split it (JSON Lines files are streamed)"
    )
    zeros = hashlib.sha256()
    for _ in range(size // (1 << 20)):
        zeros.update(bytes(1 << 20))
    assert docs["huge"]["source"]["size"] == size and docs["huge"]["source"]["sha256"] == zeros.hexdigest()


def test_the_size_limit_is_a_parameter_and_its_bound_is_exact(tmp_path):
    docs, _ = run(
        tmp_path,
        {
            "fits.txt": "x" * 100,
            "over.txt": "x" * 101,
            "over.html": ARTICLE,
            "feed.jsonl": jsonl({"text": "short"}, {"text": "y" * 200}, {"text": "short again"}),
        },
        Settings(max_file_size=100),
    )
    assert outcomes(docs) == {
        "feed.jsonl#1": ("kept", None),
        "feed.jsonl#2": ("error", "too-large"),
        "feed.jsonl#3": ("kept", None),
        "fits": ("kept", None),
        "over.html": ("error", "too-large"),
        "over.txt": ("error", "too-large"),
    }
    line = json.dumps({"text": "y" * 200}) + "\n"
    assert docs["feed.jsonl#2"]["reason"]["detail"] == f"line 2 is {len(line)} bytes, over the limit of 100 bytes; raise max-file-size to read it"
    assert docs["feed.jsonl#2"]["source"]["sha256"] == hashlib.sha256(line.encode()).hexdigest()


def test_a_big_jsonl_file_is_streamed_in_bounded_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    record = {"text": "A line of a long feed of short news items, one per line. " * 16}
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(20_000):
            handle.write(json.dumps({"id": f"n{number}", **record}) + "\n")
    size = path.stat().st_size
    file = InputFile(path=path, relpath="big.jsonl", format="jsonl", id="big")
    tracemalloc.start()
    try:
        count = sum(1 for doc in read_file(file, Settings()) if doc.status == "kept")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert size > 15_000_000 and peak < 1_000_000, f"peak {peak:,} bytes while reading {size:,}"


# -- JSON Lines and gzip ------------------------------------------------------------------------


def test_malformed_jsonl_lines_fail_alone_and_the_others_go_on(tmp_path):
    lines = [
        {"text": "first good record"},
        '{"text": broken',
        "[1, 2]",
        {"body": "no text field"},
        '{"text": "nan", "score": NaN}',
        '{"text": "inf", "score": 1e999}',
        '{"text": "digits", "n": ' + "1" * 5000 + "}",
        '{"text": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"text": "nested", "x": ' + "[" * 150 + "]" * 150 + "}",
        {"text": "last good record"},
    ]
    data = jsonl(*lines).encode() + b'{"text": "caf\xe9"}\n' + b'{"text": "truncated final line"'
    docs, _ = run(tmp_path, {"feed.jsonl": data})
    assert outcomes(docs) == {
        "feed.jsonl#1": ("kept", None),
        "feed.jsonl#2": ("error", "malformed-json"),
        "feed.jsonl#3": ("error", "not-an-object"),
        "feed.jsonl#4": ("error", "missing-text-field"),
        "feed.jsonl#5": ("error", "malformed-json"),
        "feed.jsonl#6": ("error", "malformed-json"),
        "feed.jsonl#7": ("error", "malformed-json"),
        "feed.jsonl#8": ("error", "json-too-deep"),
        "feed.jsonl#9": ("error", "json-too-deep"),
        "feed.jsonl#10": ("kept", None),
        "feed.jsonl#11": ("error", "invalid-utf8"),
        "feed.jsonl#12": ("error", "malformed-json"),
    }
    details = {doc_id: doc["reason"]["detail"] for doc_id, doc in docs.items() if doc["reason"]}
    assert details["feed.jsonl#5"] == "line 5: NaN is not a JSON value (JSON has no NaN or Infinity)"
    assert details["feed.jsonl#6"] == "line 6: the number 1e999 is too large for a 64-bit float"
    assert details["feed.jsonl#9"] == "line 9 nests arrays or objects over 100 levels deep"
    offset = len(jsonl(*lines).encode()) + len(b'{"text": "caf')
    assert details["feed.jsonl#11"] == f"byte 0xe9 at offset {offset} (line 11) is not UTF-8; re-encode the file as UTF-8"


def distinct_text(seed: int, words: int = 40) -> str:
    """A text of random words, unlike any other seed's (so dedup keeps every one)."""
    vocabulary = "harbour storm ferry council budget river bridge school strike vote court match rain wheat".split()
    chooser = random.Random(seed)
    return " ".join(f"{chooser.choice(vocabulary)}{chooser.randrange(1000)}" for _ in range(words))


def test_damaged_gzip_streams_keep_the_records_before_the_damage(tmp_path):
    RECORDS = 120  # noqa: N806
    def payload(first: int) -> bytes:
        return gzip.compress(jsonl(*({"text": distinct_text(i)} for i in range(first, first + RECORDS))).encode())

    cut, corrupt, bad_crc = payload(0), bytearray(payload(1000)), bytearray(payload(2000))
    corrupt[len(corrupt) // 2] ^= 0xFF
    bad_crc[-6] ^= 0xFF
    docs, _ = run(
        tmp_path,
        {
            "cut.jsonl.gz": cut[: len(cut) // 2],
            "corrupt.jsonl.gz": bytes(corrupt),
            "crc.jsonl.gz": bytes(bad_crc),
            "plain.jsonl.gz": jsonl({"text": "not compressed"}),
        },
    )
    by_file: dict[str, list[tuple[str, str | None]]] = {}
    for doc in sorted(docs.values(), key=lambda d: d["source"]["record"]):
        by_file.setdefault(doc["source"]["path"], []).append((doc["status"], doc["reason"] and doc["reason"]["name"]))
    cut_read = by_file["cut.jsonl.gz"]
    assert cut_read[-1] == ("error", "truncated") and set(cut_read[:-1]) == {("kept", None)} and 20 < len(cut_read) < RECORDS
    # Damaged deflate data can inflate to garbage that only the final CRC check exposes, so the
    # records read before may be damaged (some may fail as JSON); the file's error record says so.
    corrupt_read = by_file["corrupt.jsonl.gz"]
    assert corrupt_read[-1] == ("error", "bad-gzip") and {status for status, _ in corrupt_read[:-1]} <= {"kept", "error"}
    # The CRC is checked at the end of the stream, after every record was read.
    assert by_file["crc.jsonl.gz"] == [("kept", None)] * RECORDS + [("error", "bad-gzip")]
    assert by_file["plain.jsonl.gz"] == [("error", "bad-gzip")]
    assert docs[f"crc.jsonl.gz#{RECORDS + 1}"]["reason"]["detail"].startswith(f"the gzip stream is damaged after line {RECORDS} (CRC check failed")
    assert docs[f"crc.jsonl.gz#{RECORDS + 1}"]["reason"]["detail"].endswith("; the records before may be damaged too")


# -- HTML ---------------------------------------------------------------------------------------


def test_html_that_is_not_html_is_named_so(tmp_path):
    docs, _ = run(
        tmp_path,
        {
            "notes.html": "just some words, not a page",
            "data.html": json.dumps({"text": "a JSON object saved under the wrong name"}),
            "shell.html": "<html><head><title>Only a title</title></head><body><div></div></body></html>",
            "page.html": ARTICLE,
        },
    )
    assert outcomes(docs) == {
        "data": ("error", "not-html"),
        "notes": ("error", "not-html"),
        "page": ("kept", None),
        "shell": ("error", "no-main-text"),
    }


def test_deeply_nested_html_is_refused_by_name_not_a_crash(tmp_path):
    paragraph = "<p>" + "Words deep inside a page that nests its elements far too deeply. " * 5 + "</p>"

    def nested(tag: str, depth: int) -> str:
        text = paragraph.replace("Words", f"{tag.title()} {depth}")
        return f"<html><body>{f'<{tag}>' * depth}{text}{f'</{tag}>' * depth}</body></html>"

    docs, _ = run(
        tmp_path,
        {"divs.html": nested("div", 100_000), "spans.html": nested("span", 300), "shallow.html": nested("div", 100), "items.html": nested("li", 20_000)},
    )
    assert outcomes(docs) == {
        "divs": ("error", "html-too-deep"),
        "items": ("kept", None),
        "shallow": ("kept", None),
        "spans": ("error", "html-too-deep"),
    }
    assert docs["divs"]["reason"]["detail"] == (
        "elements nest 256 levels deep, the HTML parser's limit; the text inside them cannot be read"
    )


# -- the file system ----------------------------------------------------------------------------


def test_symlinks_out_of_the_input_root_are_skipped_unless_followed(tmp_path):
    outside = build(tmp_path / "outside", {"secret.txt": "A secret kept outside the input root.", "folder/inner.txt": "Inner text."})
    corpus = build(tmp_path / "in", {"real.txt": "A real article inside the root."})
    (corpus / "sub").mkdir()
    os.symlink(outside / "secret.txt", corpus / "secret.txt")
    os.symlink(outside / "folder", corpus / "folder")
    os.symlink(outside, outside / "folder/up")
    os.symlink(corpus / "real.txt", corpus / "sub/alias.txt")
    os.symlink(corpus / "sub", corpus / "again")
    out = tmp_path / "out"
    clean_corpus([corpus], out, Settings())
    docs, manifest = read_docs(out), json.loads((out / "manifest.json").read_text())
    assert sorted(docs) == ["real", "sub/alias"]
    assert manifest["inputs"]["skipped"] == [
        {"path": "again", "reason": "symbolic link to a folder inside the input root (its files are read under their own path)"},
        {"path": "folder", "reason": "symbolic link to outside the input root (not followed without --follow-symlinks)"},
        {"path": "secret.txt", "reason": "symbolic link to outside the input root (not followed without --follow-symlinks)"},
    ]
    assert verify_output(out) == []
    clean_corpus([corpus], out, Settings(follow_symlinks=True))
    assert sorted(read_docs(out)) == ["folder/inner", "folder/up/secret", "real", "secret", "sub/alias"]
    assert json.loads((out / "manifest.json").read_text())["inputs"]["skipped"] == [
        {"path": "again", "reason": "symbolic link to a folder inside the input root (its files are read under their own path)"},
        {"path": "folder/up/folder", "reason": "symbolic link to a folder already read (a loop or a second way in)"},
    ]


def test_link_loops_broken_links_and_fifos_never_hang_or_stop_a_run(tmp_path):
    corpus = build(tmp_path / "in", {"a.txt": "An article."})
    os.symlink(corpus, corpus / "loop")
    os.symlink(corpus / "nowhere.txt", corpus / "broken.txt")
    os.symlink(corpus / "cycle-b.txt", corpus / "cycle-a.txt")
    os.symlink(corpus / "cycle-a.txt", corpus / "cycle-b.txt")
    os.mkfifo(corpus / "pipe.txt")
    out = tmp_path / "out"
    for follow in (False, True):
        found = discover([corpus], follow_symlinks=follow)
        assert [f.id for f in found.files] == ["a"]
        assert dict(found.skipped) == {
            "broken.txt": "broken symbolic link",
            "cycle-a.txt": "symbolic link loop",
            "cycle-b.txt": "symbolic link loop",
            "loop": "symbolic link to a folder inside the input root (its files are read under their own path)",
            "pipe.txt": "not a regular file (a FIFO, socket or device)",
        }
    clean_corpus([corpus], out, Settings())
    assert list(read_docs(out)) == ["a"] and verify_output(out) == []


def test_unreadable_files_are_error_records_and_the_run_goes_on(tmp_path, monkeypatch):
    refuse_to_open(monkeypatch, "locked.txt")
    refuse_to_open(monkeypatch, "locked-feed.jsonl")
    docs, manifest = run(tmp_path, {"locked.txt": "secret", "locked-feed.jsonl": jsonl({"text": "secret"}), "open.txt": "An open file."})
    assert outcomes(docs) == {
        "locked": ("error", "unreadable"),
        "locked-feed.jsonl#1": ("error", "unreadable"),
        "open": ("kept", None),
    }
    assert docs["locked"]["reason"]["detail"] == "Permission denied"
    assert [error["id"] for error in manifest["errors"]] == ["locked", "locked-feed.jsonl#1"]


def test_an_unreadable_subfolder_is_skipped_with_its_reason(tmp_path, monkeypatch):
    corpus = build(tmp_path / "in", {"a.txt": "An article.", "private/b.txt": "Hidden by permissions."})
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "private":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover([corpus])
    assert ([f.id for f in found.files], found.skipped) == (["a"], [("private", "unreadable folder: Permission denied")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_a_file_without_read_permission_is_an_error_record(tmp_path):
    corpus = build(tmp_path / "in", {"locked.txt": "secret"})
    (corpus / "locked.txt").chmod(0)
    clean_corpus([corpus], tmp_path / "out", Settings())
    assert outcomes(read_docs(tmp_path / "out")) == {"locked": ("error", "unreadable")}


def test_file_names_with_spaces_newlines_and_undecodable_bytes(tmp_path):
    docs, manifest = run(
        tmp_path,
        {
            "with space.txt": "Spaces are common in the names of saved pages.",
            "new\nline.txt": "Newlines in names are legal on Linux.",
            b"caf\xe9.txt": "Latin-1 names come from old archives.",
            b"sub\xff/bad\xfe.txt": b"\xff not UTF-8 inside either",
            b"skip\xe9.jpg": b"\xff\xd8\xff",
        },
    )
    assert outcomes(docs) == {
        "caf%E9": ("kept", None),
        "new\nline": ("kept", None),
        "sub%FF/bad%FE": ("error", "invalid-utf8"),
        "with space": ("kept", None),
    }
    assert docs["sub%FF/bad%FE"]["source"]["path"] == "sub%FF/bad%FE.txt"
    assert manifest["inputs"]["skipped"] == [{"path": "skip%E9.jpg", "reason": "unsupported file type"}]
    out = tmp_path / "out"
    assert (out / "text" / text_path("new\nline")).read_text() == "Newlines in names are legal on Linux.\n"
    assert (out / "text/caf%25E9.txt").read_text() == "Latin-1 names come from old archives.\n"


def test_an_input_folder_whose_own_name_is_not_utf8_still_gives_valid_output(tmp_path):
    corpus = Path(os.fsdecode(os.fsencode(tmp_path) + b"/in\xe9"))
    build(corpus, {"a.txt": "An article in an oddly named folder."})
    out = tmp_path / "out"
    clean_corpus([corpus], out, Settings())
    assert verify_output(out) == []
    manifest = json.loads((out / "manifest.json").read_bytes().decode("utf-8"))
    assert [Path(path) for path in manifest["inputs"]["paths"]] == [corpus]
    assert list(read_docs(out)) == ["a"]


def test_ids_from_data_never_reach_the_filesystem_unescaped(tmp_path):
    hostile = ["../../etc/passwd", "/abs/path", "..", ".", "a/../../b", "x", "x.txt/y", "nul\x00byte", "back\\slash", "~", "$HOME"]
    docs, _ = run(tmp_path, {"feed.jsonl": jsonl(*({"id": i, "text": f"Record {n} of a hostile feed."} for n, i in enumerate(hostile)))})
    assert sorted(docs) == sorted(hostile)
    out = tmp_path / "out"
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents and tmp_path / "in" not in p.parents)
    assert written == []
    texts = sorted(p.relative_to(out / "text").as_posix() for p in (out / "text").rglob("*") if p.is_file())
    assert texts == sorted(text_path(i) for i in hostile)
    assert all(".." not in part.split("/") for part in texts)


# -- the command line ---------------------------------------------------------------------------


def test_the_cli_reads_a_corpus_of_bad_inputs_reports_each_and_exits_0(tmp_path):
    build(
        tmp_path / "in",
        {
            "good.txt": "A good article.\nWith two paragraphs.",
            "image.txt": PNG,
            "cut.jsonl.gz": gzip.compress(jsonl({"text": "one"}, {"text": "two"}).encode())[:-12],
            "deep.html": "<html><body>" + "<div>" * 2000 + "<p>deep</p>" + "</div>" * 2000 + "</body></html>",
        },
    )
    os.mkfifo(tmp_path / "in/pipe.txt")
    command = [sys.executable, "-m", "cleaner", "run", "in", "out", "--quiet"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.splitlines() == [
        f"cleaner: warning: {Path('in/cut.jsonl.gz')}:2: truncated: compressed stream ends early after line 1: "
        "Compressed file ended before the end-of-stream marker was reached",
        f"cleaner: warning: {Path('in/deep.html')}: html-too-deep: elements nest 256 levels deep, the HTML parser's limit; "
        "the text inside them cannot be read",
        f"cleaner: warning: {Path('in/image.txt')}: binary: the file holds binary data (NUL or control bytes), not text",
    ]
    assert verify_output(tmp_path / "out") == []
    strict = subprocess.run([*command, "--strict"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1


# -- determinism --------------------------------------------------------------------------------


def generated_corpus(folder: Path, order_seed: int = 0, stories: int = 24) -> list[Path]:
    """Two input folders of articles rebuilt from the seeds' paragraphs (so with reused paragraphs
    and near-duplicate documents), one shared file name, and a JSON Lines feed; files are written
    in an order that depends on `order_seed`, the content never does."""
    paragraphs = [p for path in sorted(SEEDS.glob("*.txt")) for p in path.read_text().split("\n") if len(p) > 60]
    content = random.Random(7)
    files: dict[str, str] = {}
    for number in range(stories):
        chosen = content.sample(paragraphs, 6)
        if number % 5 == 4:  # a near copy of the article before, one paragraph swapped
            chosen = previous[:5] + [content.choice(paragraphs)]
        previous = chosen
        files[f"{'ab'[number % 2]}/story{number:02d}.txt"] = "\n\n".join(chosen)
    files["a/same-name.txt"] = files["b/same-name.txt"] = "\n\n".join(content.sample(paragraphs, 4))
    files["b/feed.jsonl"] = jsonl(*({"id": f"wire-{n}", "text": "\n\n".join(content.sample(paragraphs, 3))} for n in range(6)))
    names = sorted(files)
    random.Random(order_seed).shuffle(names)
    for name in names:
        build(folder, {name: files[name]})
    return [folder / "a", folder / "b"]


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def test_output_is_byte_identical_across_input_orders_and_worker_counts(tmp_path):
    first = generated_corpus(tmp_path / "one", order_seed=1)
    second = generated_corpus(tmp_path / "two", order_seed=2)
    clean_corpus(first, tmp_path / "out1", Settings(workers=1))
    clean_corpus(list(reversed(first)), tmp_path / "out2", Settings(workers=2))
    clean_corpus(list(reversed(second)), tmp_path / "out3", Settings(workers=2))
    clean_corpus(second, tmp_path / "out4", Settings(workers=1))
    outputs = [snapshot(tmp_path / f"out{n}") for n in range(1, 5)]
    assert outputs[0]["clusters.jsonl"].count(b"\n") >= 3, "the corpus must exercise dedup"
    assert any(b'"status":"dropped"' in line for line in outputs[0]["docs.jsonl"].splitlines())
    for output in outputs[1:]:
        assert output == outputs[0]
    for n in range(1, 5):
        assert verify_output(tmp_path / f"out{n}") == []
