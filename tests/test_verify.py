"""`verify_output`: a good output passes; each kind of damage is caught with a precise message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from cleaner import Settings, clean_corpus
from cleaner.errors import OutputError
from cleaner.verify import MAX_PER_CHECK, input_digest, verify_output
from cleaner.write import text_path

from conftest import SEEDS


@pytest.fixture(scope="module")
def good_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds, a copy of one seed (a document cluster, a dropped document) and a broken file."""
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copytree(SEEDS, corpus / "seeds")
    first = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(first, corpus / "copy.txt")
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00broken")
    out = corpus / "out"
    clean_corpus([corpus], out, Settings())
    return out


@pytest.fixture
def out(good_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(good_output, copy)
    return copy


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records), encoding="utf-8")


def edit_docs(out: Path, change: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    docs = read_lines(out / "docs.jsonl")
    change(docs)
    write_lines(out / "docs.jsonl", docs)
    return docs


def edit_manifest(out: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def first_with(docs: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> int:
    return next(index for index, doc in enumerate(docs) if test(doc))


def test_a_good_output_passes_and_covers_every_kind_of_record(good_output):
    assert verify_output(good_output) == []
    docs = read_lines(good_output / "docs.jsonl")
    clusters = read_lines(good_output / "clusters.jsonl")
    assert {doc["status"] for doc in docs} == {"kept", "dropped", "error"}
    assert {cluster["level"] for cluster in clusters} == {"document", "paragraph"}
    assert any(doc["removed"] for doc in docs)


def test_seeds_output_and_the_golden_records_pass(seeds, tmp_path):
    clean_corpus([seeds], tmp_path / "out", Settings(workers=2))
    assert verify_output(tmp_path / "out") == []


def test_a_folder_that_is_not_there_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="is not a folder; pass the OUT folder of a `cleaner run`"):
        verify_output(tmp_path / "nothing")


def test_a_missing_or_foreign_manifest_is_reported(out):
    (out / "manifest.json").unlink()
    assert verify_output(out) == ["manifest.json: missing (a run writes it last; without it OUT is incomplete)"]
    (out / "manifest.json").write_text('{"tool": "other"}')
    assert verify_output(out) == ['manifest.json: not written by cleaner (no "tool": "cleaner")']


def test_lines_that_are_not_json_objects_are_reported_with_their_line(out):
    lines = (out / "docs.jsonl").read_bytes().splitlines(keepends=True)
    lines[1] = b'{"id": broken\n'
    lines[2] = b'{"id": "x", "bad": "\xff"}\n'
    lines[3] = b'{"id": "y", "score": NaN}\n'
    lines[4] = b"[1, 2]\n"
    (out / "docs.jsonl").write_bytes(b"".join(lines))
    problems = verify_output(out)
    assert problems[:4] == [
        "docs.jsonl:2: not valid JSON: Expecting value: line 1 column 8 (char 7)",
        "docs.jsonl:3: not UTF-8 (byte 0xff at column 21)",
        "docs.jsonl:4: not valid JSON: NaN is not a JSON value",
        "docs.jsonl:5: a JSON list, not an object",
    ]


def test_a_cut_short_file_is_reported(out):
    data = (out / "clusters.jsonl").read_bytes()
    (out / "clusters.jsonl").write_bytes(data[:-1])
    assert verify_output(out) == ["clusters.jsonl: the last line has no newline (the file may be cut short)"]


def test_missing_and_mistyped_fields_are_reported(out):
    def damage(docs):
        del docs[0]["stats"]
        docs[1]["status"] = "maybe"
        docs[2]["removed"] = "nothing"
        docs[3]["extra"] = 1

    edit_docs(out, damage)
    problems = verify_output(out)
    assert problems[:4] == [
        "docs.jsonl:1: field 'stats' is missing",
        "docs.jsonl:2: status 'maybe' is not one of kept, dropped, error",
        "docs.jsonl:3: field 'removed' has the wrong type (str)",
        "docs.jsonl:4: unknown field(s) extra",
    ]


def test_a_status_and_its_reason_must_agree(out):
    def damage(docs):
        docs[first_with(docs, lambda d: d["status"] == "kept")]["reason"] = {"stage": "x", "rule": None, "name": "y", "detail": ""}
        docs[first_with(docs, lambda d: d["status"] == "error")]["reason"] = None

    docs = edit_docs(out, damage)
    kept = first_with(docs, lambda d: d["status"] == "kept") + 1
    error = first_with(docs, lambda d: d["status"] == "error") + 1
    assert set(verify_output(out)) >= {f"docs.jsonl:{kept}: status 'kept' but a reason", f"docs.jsonl:{error}: status 'error' but no reason"}


def test_ids_out_of_order_or_repeated_are_reported(out):
    docs = read_lines(out / "docs.jsonl")
    write_lines(out / "docs.jsonl", [docs[1], docs[0], *docs[2:], docs[-1]])
    problems = verify_output(out)
    last = len(docs) + 1
    assert f"docs.jsonl:2: id {docs[0]['id']!r} comes after {docs[1]['id']!r}; records must be in id order" in problems
    assert f"docs.jsonl:{last}: id {docs[-1]['id']!r} is repeated (first on line {last - 1})" in problems
    assert any(p.startswith("manifest.json: inputs.documents is") for p in problems)


def test_a_text_that_no_longer_fits_its_removed_spans_is_reported(out):
    docs = read_lines(out / "docs.jsonl")
    index = first_with(docs, lambda d: d["removed"] and d["removed"][-1]["start"] > 50)
    doc = docs[index]
    doc["text"] = doc["text"][:40]
    write_lines(out / "docs.jsonl", docs)
    where = f"docs.jsonl:{index + 1} ({doc['id']})"
    last = doc["removed"][-1]
    problems = verify_output(out)
    assert f"{where}: removed[{len(doc['removed']) - 1}] ({last['rule']}) does not match the rebuilt text at {last['start']}-{last['end']}" in problems
    assert f"{where}: stats.chars_kept is {doc['stats']['chars_kept']}, the text gives 40" in problems


def test_overlapping_reversed_or_wrong_length_spans_are_reported(out):
    docs = read_lines(out / "docs.jsonl")
    index = first_with(docs, lambda d: len(d["removed"]) >= 2)
    where = f"docs.jsonl:{index + 1} ({docs[index]['id']})"
    original = json.loads(json.dumps(docs[index]["removed"]))
    first, second = original[0], original[1]
    cases = [
        ([{**first, "end": first["start"]}, second], f"{where}: removed[0] is empty or reversed ({first['start']}-{first['start']})"),
        ([first, {**second, "start": first["end"] - 1}], f"{where}: removed[1] ({first['end'] - 1}-{second['end']}) overlaps or precedes the span before it"),
        ([{**first, "text": first["text"] + "!"}, second], f"{where}: removed[0] holds {len(first['text']) + 1} characters for a span of {first['end'] - first['start']}"),
    ]
    for spans, expected in cases:
        docs[index]["removed"] = spans
        write_lines(out / "docs.jsonl", docs)
        assert expected in verify_output(out)


def test_stats_that_disagree_with_the_text_are_reported(out):
    docs = edit_docs(out, lambda docs: docs[0]["stats"].update(chars=docs[0]["stats"]["chars"] + 1))
    assert verify_output(out) == [f"docs.jsonl:1 ({docs[0]['id']}): stats.chars is {docs[0]['stats']['chars']}, the text gives {docs[0]['stats']['chars'] - 1}"]


def test_text_files_missing_changed_orphaned_or_for_dropped_documents_are_reported(out):
    docs = read_lines(out / "docs.jsonl")
    kept = [(n, d) for n, d in enumerate(docs, start=1) if d["status"] == "kept"]
    dropped = next(d for d in docs if d["status"] == "dropped")
    (out / "text" / text_path(kept[0][1]["id"])).unlink()
    (out / "text" / text_path(kept[1][1]["id"])).write_text("changed\n", encoding="utf-8")
    (out / "text" / text_path(dropped["id"])).write_text(dropped["text"] + "\n", encoding="utf-8")
    (out / "text/stray.txt").write_text("left over\n")
    problems = verify_output(out)
    assert problems[:4] == [
        f"text/{text_path(kept[0][1]['id'])}: missing for kept document {kept[0][1]['id']!r} (docs.jsonl:{kept[0][0]})",
        f"text/{text_path(kept[1][1]['id'])}: differs from the text of {kept[1][1]['id']!r} in docs.jsonl:{kept[1][0]} (plus a newline)",
        f"text/{text_path(dropped['id'])}: no kept document has this text file",
        "text/stray.txt: no kept document has this text file",
    ]
    assert len(problems) == 4


def test_clusters_that_point_nowhere_or_are_malformed_are_reported(out):
    clusters = read_lines(out / "clusters.jsonl")
    document = first_with(clusters, lambda c: c["level"] == "document")
    paragraph = first_with(clusters, lambda c: c["level"] == "paragraph")
    clusters[document]["members"][0]["doc"] = "no-such-doc"
    clusters[paragraph]["canonical"]["paragraph"] = 9999
    clusters[paragraph]["size"] += 1
    clusters.append({**clusters[paragraph], "cluster": clusters[document]["cluster"], "level": "sentence"})
    write_lines(out / "clusters.jsonl", clusters)
    canonical = clusters[paragraph]["canonical"]["doc"]
    problems = verify_output(out)
    assert set(problems) >= {
        f"clusters.jsonl:{document + 1}: members[0]: document 'no-such-doc' is not in docs.jsonl",
        f"clusters.jsonl:{paragraph + 1}: size {clusters[paragraph]['size']} but {len(clusters[paragraph]['members'])} member(s) besides the kept copy",
        f"clusters.jsonl:{paragraph + 1}: canonical: paragraph 9999 of {canonical!r} does not exist "
        f"(it has {next(d for d in read_lines(out / 'docs.jsonl') if d['id'] == canonical)['stats']['paragraphs']})",
        f"clusters.jsonl:{len(clusters)}: cluster id {clusters[document]['cluster']!r} is repeated",
        f"clusters.jsonl:{len(clusters)}: level 'sentence' is not one of document, paragraph",
    }


def test_manifest_counts_that_disagree_with_the_output_are_reported(out):
    edit_manifest(out, lambda m: m["counts"].update(kept=m["counts"]["kept"] + 1))
    problems = verify_output(out)
    assert len(problems) == 1 and problems[0].startswith("manifest.json: counts is {'kept': ")
    edit_manifest(out, lambda m: (m["counts"].update(kept=m["counts"]["kept"] - 1), m["clusters"].update(document=0), m["errors"].clear()))
    assert [p.split(" is ")[0] for p in verify_output(out)] == ["manifest.json: errors", "manifest.json: clusters"]


def test_an_input_digest_that_does_not_match_the_documents_is_reported(out):
    recorded = json.loads((out / "manifest.json").read_text())["inputs"]["digest"]
    assert input_digest((doc["id"], doc["source"]["sha256"]) for doc in read_lines(out / "docs.jsonl")) == recorded
    docs = edit_docs(out, lambda docs: docs[0]["source"].update(sha256="0" * 64))
    changed = input_digest((doc["id"], doc["source"]["sha256"]) for doc in docs)
    assert verify_output(out) == [f"manifest.json: inputs.digest is {recorded!r}, but the documents in docs.jsonl give {changed!r}"]


def test_many_problems_of_one_kind_are_capped(out):
    with open(out / "docs.jsonl", "a", encoding="utf-8") as docs:
        docs.write("not json\n" * (MAX_PER_CHECK + 5))
    problems = verify_output(out)
    assert len(problems) == MAX_PER_CHECK + 1
    assert problems[-2].endswith(": not valid JSON: Expecting value: line 1 column 1 (char 0)")
    assert problems[-1] == "... and 5 more problem(s) like the last one"
