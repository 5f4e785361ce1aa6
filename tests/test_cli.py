"""End-to-end: the installed `cleaner` command on the sample corpus and on broken inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEEDS

SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))
DOC_FIELDS = ["id", "source", "status", "reason", "text", "lang", "meta", "fixes", "removed", "flags", "stats"]


def cleaner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cleaner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
    )


def read_docs(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "docs.jsonl").read_text(encoding="utf-8").splitlines()]


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_run_on_the_seeds_writes_the_output_contract(seeds):
    result = cleaner("run", "seeds/", "out/", cwd=seeds.parent)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "documents in        5" in result.stdout and "errors              0" in result.stdout
    out = seeds.parent / "out"
    docs = read_docs(out)
    assert [d["id"] for d in docs] == SEED_IDS
    for doc in docs:
        assert list(doc) == DOC_FIELDS
        assert doc["status"] == "kept" and doc["reason"] is None
        assert doc["source"]["path"] == doc["id"] + ".txt"
        assert (out / "text" / f"{doc['id']}.txt").read_text(encoding="utf-8") == doc["text"] + "\n"
        assert "\n\n\n" not in doc["text"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"] == "cleaner"
    assert manifest["counts"] == {"kept": 5, "dropped": 0, "error": 0}
    assert manifest["inputs"]["files"] == manifest["inputs"]["documents"] == 5
    assert manifest["inputs"]["bytes"] == sum(p.stat().st_size for p in SEEDS.glob("*.txt"))
    assert set(manifest["timings"]) >= {"ingest", "normalise", "dedup", "write", "total"}
    clusters = [json.loads(line) for line in (out / "clusters.jsonl").read_text().splitlines()]
    assert manifest["clusters"] == {"document": 0, "paragraph": len(clusters)} and clusters


def test_both_paragraph_layouts_of_the_seeds_come_out_blank_line_separated(seeds):
    cleaner("run", "seeds", "out", cwd=seeds.parent)
    for doc in read_docs(seeds.parent / "out"):
        raw = (SEEDS / doc["source"]["path"]).read_text(encoding="utf-8")
        raw_paragraphs = [p for p in raw.replace("\n\n", "\n").split("\n") if p.strip()]
        assert doc["stats"]["paragraphs"] == len(raw_paragraphs)


def test_a_second_run_and_a_two_worker_run_give_byte_identical_output(seeds):
    cleaner("run", "seeds", "out", cwd=seeds.parent)
    first = snapshot(seeds.parent / "out")
    cleaner("run", "seeds", "out", "--workers", "2", cwd=seeds.parent)
    second = snapshot(seeds.parent / "out")
    manifests = [json.loads(s.pop("manifest.json")) for s in (first, second)]
    assert first == second
    for manifest in manifests:
        manifest.pop("timings")
        manifest["engine"].pop("cpus")
    assert manifests[0] == manifests[1]


def test_bad_files_become_error_records_and_the_run_goes_on(tmp_path):
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "good.txt").write_text("A good article.\nWith two paragraphs.", encoding="utf-8")
    (corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "feed.jsonl").write_text('{"text": "fine"}\n{"text": nope}\n', encoding="utf-8")
    result = cleaner("run", "in", "out", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"cleaner: warning: {Path('in/empty.txt')}: empty: the file has no text",
        f"cleaner: warning: {Path('in/feed.jsonl')}:2: malformed-json: line 2, column 10: Expecting value",
        f"cleaner: warning: {Path('in/image.txt')}: binary: the file holds binary data (NUL or control bytes), not text",
        f"cleaner: warning: {Path('in/latin1.txt')}: invalid-utf8: byte 0xe9 at offset 3 (line 1) is not UTF-8; "
        "re-encode the file as UTF-8",
    ]
    docs = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert {i: d["status"] for i, d in docs.items()} == {
        "empty": "error",
        "feed.jsonl#1": "kept",
        "feed.jsonl#2": "error",
        "good": "kept",
        "image": "error",
        "latin1": "error",
    }
    assert docs["latin1"]["reason"] == {
        "stage": "ingest",
        "rule": None,
        "name": "invalid-utf8",
        "detail": "byte 0xe9 at offset 3 (line 1) is not UTF-8; re-encode the file as UTF-8",
    }
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["counts"] == {"kept": 2, "dropped": 0, "error": 4}
    assert [e["id"] for e in manifest["errors"]] == ["empty", "feed.jsonl#2", "image", "latin1"]


def test_strict_turns_error_records_into_exit_1(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/bad.txt").write_bytes(b"\xff\xfe\xfa")
    result = cleaner("run", "in", "out", "--strict", "--quiet", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == "cleaner: error: 1 input document(s) could not be read (--strict)"
    assert (tmp_path / "out/docs.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "out"], "cleaner: error: give at least one input and the output folder: cleaner run IN... OUT\n"),
        (["run", "missing", "out"], "cleaner: error: input 'missing' does not exist; pass a file or a folder of documents\n"),
        (
            ["run", "in", "precious"],
            "cleaner: error: output folder 'precious' is not empty and holds no cleaner manifest.json; "
            "pass a new or empty folder (cleaner replaces OUT as a whole)\n",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_hint(tmp_path, args, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.txt").write_text("text")
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious/thesis.tex").write_text("years of work")
    result = cleaner(*args, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
    assert (tmp_path / "precious/thesis.tex").read_text() == "years of work"


def test_the_console_script_and_version_work(tmp_path):
    script = Path(sys.executable).parent / "cleaner"
    if not script.exists():
        pytest.skip("console script not installed next to this interpreter")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "cleaner 0.1.0\n")


def test_library_api_matches_the_cli(seeds):
    from cleaner import Settings, clean_corpus

    result = clean_corpus([seeds], seeds.parent / "lib-out", Settings())
    cleaner("run", "seeds", "cli-out", cwd=seeds.parent)
    assert result.counts == {"kept": 5, "dropped": 0, "error": 0}
    assert (seeds.parent / "lib-out/docs.jsonl").read_bytes() == (seeds.parent / "cli-out/docs.jsonl").read_bytes()


def test_verify_passes_a_fresh_output_and_names_what_breaks_it(seeds):
    cleaner("run", "seeds", "out", "-q", cwd=seeds.parent)
    ok = cleaner("verify", "out", cwd=seeds.parent)
    assert (ok.returncode, ok.stdout) == (0, "out: ok\n")
    text = seeds.parent / "out/text/000_ec013513393c3d35.txt"
    text.write_text(text.read_text(encoding="utf-8") + "tampered\n", encoding="utf-8")
    broken = cleaner("verify", "out", cwd=seeds.parent)
    assert broken.returncode == 1
    assert broken.stdout == (
        "text/000_ec013513393c3d35.txt: differs from the text of '000_ec013513393c3d35' in docs.jsonl:1 (plus a newline)\n"
    )
    assert broken.stderr == "cleaner: error: out does not keep the output contract (1 problem(s) above)\n"


def test_encoding_fallback_and_size_limit_options(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/legacy.txt").write_bytes("Caf\xe9 society meets on Tuesday evenings.".encode("cp1252"))
    (tmp_path / "in/big.txt").write_text("x " * 600, encoding="utf-8")
    result = cleaner("run", "in", "out", "-q", "--encoding-fallback", "windows-1252", "--max-file-size", "1000", cwd=tmp_path)
    assert result.returncode == 0
    docs = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert docs["legacy"]["text"] == "Café society meets on Tuesday evenings."
    assert docs["legacy"]["fixes"][0]["rule"] == "NM010"
    assert (docs["big"]["status"], docs["big"]["reason"]["name"]) == ("error", "too-large")
    assert cleaner("run", "in", "out2", "--encoding-fallback", "klingon", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('shingle-hash = "md5"', "shingle-hash must be one of poly64, sha1, not 'md5'"),
        ('langid-backend = "cld3"', "langid-backend must be one of fasttext, langdetect, not 'cld3'"),
    ],
)
def test_a_bad_backend_in_the_configuration_exits_2_naming_the_choices(tmp_path, config, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.txt").write_text("Some text to clean.", encoding="utf-8")
    (tmp_path / "cleaner.toml").write_text(config + "\n", encoding="utf-8")
    result = cleaner("run", "in", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_the_command_starts_without_importing_the_heavy_libraries_it_may_not_need():
    """datasketch (its package import pulls in scipy, ~0.5 s) and trafilatura (~0.15 s) are
    imported where they are used, not when the CLI or a module of the package loads; the
    package's public names are still there, imported when first asked."""
    heavy = "('datasketch', 'scipy', 'trafilatura', 'cleaner.pipeline')"
    probe = (
        f"import sys, cleaner.index; print(sorted(name for name in {heavy} if name in sys.modules)); "
        f"import cleaner.cli; print(sorted(name for name in {heavy} if name in sys.modules)); "
        "from cleaner import *; import cleaner; print(all(callable(getattr(cleaner, name)) for name in cleaner.__all__))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:3] == ["[]", "['cleaner.pipeline']", "True"]
