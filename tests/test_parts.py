"""A large plain JSON Lines file is read as parts of whole lines, each a work unit of its own:
the output must be the output of reading it whole."""

from __future__ import annotations

import json
import random

import pytest

from cleaner import ingest
from cleaner.config import Settings
from cleaner.ingest import discover, split_large
from cleaner.pipeline import clean_corpus
from conftest import BACKGROUND, EDITED, SEEDS
from test_resume import interrupted_run
from test_reliability import snapshot


def feed(path, seed: int = 1) -> bytes:
    """Records of every kind a reader meets, with blank lines, CRLF endings and no final newline."""
    rng = random.Random(seed)
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    lines = []
    for number in range(60):
        kind = rng.random()
        if kind < 0.08:
            lines.append(b"")
        elif kind < 0.12:
            lines.append(b'{"text": "cut off')
        elif kind < 0.15:
            lines.append(json.dumps({"title": "no text"}).encode())
        elif kind < 0.18:
            lines.append(json.dumps({"id": "dup", "text": rng.choice(seeds)}).encode())
        elif kind < 0.21:
            lines.append(json.dumps({"text": "x" * 3000}).encode())  # over the line limit below
        else:
            body = rng.choice([*seeds, BACKGROUND + "\n\n" + EDITED, f"Stück {number} über Straßen, 東京. " * 20])
            lines.append(json.dumps({"id": f"r{number:03}", "text": body}, ensure_ascii=rng.random() < 0.5).encode())
    data = b"".join(line + (b"\r\n" if rng.random() < 0.2 else b"\n") for line in lines) + b'{"text": "last line, no newline at all here"}'
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("limit", [1, 7, 100, 999, 5000])
def test_parts_are_whole_lines_that_cover_the_file(tmp_path, limit):
    data = feed(tmp_path / "feed.jsonl")
    (unit_file,) = discover([tmp_path / "feed.jsonl"]).files
    parts = split_large([unit_file], limit)
    assert len(parts) > 1 and parts[0].part.start == 0 and parts[-1].part.end == len(data)
    for before, after in zip(parts, parts[1:]):
        assert before.part.end == after.part.start and data[after.part.start - 1 : after.part.start] == b"\n"
    for unit in parts:
        assert unit.part.lines == data[: unit.part.start].count(b"\n")
        with unit.open() as handle:
            assert handle.read() == data[unit.part.start : unit.part.end]
    assert split_large([unit_file], len(data)) == [unit_file]


def test_a_file_read_in_parts_gives_the_output_of_reading_it_whole(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    data = feed(tmp_path / "in" / "feed.jsonl")
    (tmp_path / "in" / "small.jsonl").write_bytes(data[:2000].rsplit(b"\n", 1)[0] + b"\n")
    settings = Settings(workers=2, max_file_size=2500)
    clean_corpus([tmp_path / "in"], tmp_path / "whole", settings)
    monkeypatch.setattr(ingest, "PART_BYTES", 1500)
    assert len(split_large(discover([tmp_path / "in"]).files)) > 10
    result = clean_corpus([tmp_path / "in"], tmp_path / "parts", settings)
    whole, parts = snapshot(tmp_path / "whole"), snapshot(tmp_path / "parts")  # all but the manifest
    assert parts == whole
    assert result.manifest["inputs"]["files"] == 2
    records = [json.loads(line) for line in whole["docs.jsonl"].splitlines()]
    reasons = {r["reason"]["detail"].split(" ")[0] if r["status"] == "error" else r["status"] for r in records}
    assert {"kept", "dropped", "line"} <= reasons  # kept, duplicate and bad lines all crossed the cuts


def test_a_binary_file_with_a_jsonl_name_stays_whole(tmp_path):
    (tmp_path / "blob.jsonl").write_bytes(bytes(range(256)) * 100)
    (unit_file,) = discover([tmp_path / "blob.jsonl"]).files
    assert split_large([unit_file], 100) == [unit_file]


def test_an_interrupted_run_resumes_part_by_part(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    feed(tmp_path / "in" / "feed.jsonl")
    monkeypatch.setattr(ingest, "PART_BYTES", 3000)
    settings = Settings(workers=1, max_file_size=2500)
    clean_corpus([tmp_path / "in"], tmp_path / "reference", settings)
    interrupted_run(monkeypatch, [tmp_path / "in"], tmp_path / "out", files=3, settings=settings)
    result = clean_corpus([tmp_path / "in"], tmp_path / "out", settings, resume=True)
    assert result.reused_files == 3
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "reference")
