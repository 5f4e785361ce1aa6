"""The sample corpus end to end: the reused background paragraphs, and the golden output.

The golden files under tests/golden/seeds/ are the exact output of `cleaner run seeds/ out/`;
when a change to cleaner changes them on purpose, regenerate them with
`CLEANER_UPDATE_GOLDEN=1 python -m pytest tests/test_seeds.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cleaner import Settings, clean_corpus
from conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "seeds"
A, B, C, D, E = ("000_ec013513393c3d35", "001_3b45b15f7c2cecdb", "002_96c4b650bc7dc9e5", "003_d3cd856a60491968", "004_306c1b31e536c9b7")

# (kept copy, [removed copies]) as (document, start of the paragraph): the background that the
# TRT World articles reuse with edits, and the lead that article A repeats further down.
EXPECTED_CLUSTERS = [
    ((A, "Fresh clashes between Azerbaijan and Armenia erupted"), [(A, "Fresh clashes erupted on September 27")]),
    (
        (A, "Relations between the two former Soviet republics"),
        [(B, "Relations between the two former Soviet nations"), (E, "Relations between the two former Soviet republics")],
    ),
    (
        (A, "Four UN Security Council resolutions and two from"),
        [(B, "Four UN Security Council and two UN General"), (E, "Four UN Security Council and two UN General")],
    ),
    (
        (A, "The Minsk Group of Organisation for Security"),
        [(B, "The OSCE Minsk Group, co-chaired"), (B, "A ceasefire, however, was agreed"), (E, "The OSCE Minsk Group – co-chaired")],
    ),
    ((B, "Border clashes broke out early on Sunday"), [(E, "Border clashes first broke out last Sunday")]),
    ((B, "Azerbaijan's parliament declared a state of war"), [(E, "Azerbaijan’s parliament declared a state of war")]),
    ((B, "France, Russia and NATO, among others"), [(E, "France, Russia, and NATO, among others")]),
]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds") / "out"
    clean_corpus([REPO / "seeds"], folder, Settings())
    return folder


def load(out, name):
    return [json.loads(line) for line in (out / name).read_text(encoding="utf-8").splitlines()]


def test_every_reused_paragraph_is_found_and_only_the_first_copy_kept(out):
    clusters = [c for c in load(out, "clusters.jsonl") if c["level"] == "paragraph"]
    found = [
        (
            (c["canonical"]["doc"], c["canonical"]["text"]),
            [(m["doc"], m["text"]) for m in c["members"]],
        )
        for c in clusters
    ]
    assert len(found) == len(EXPECTED_CLUSTERS)
    for (kept, members), (expected_kept, expected_members) in zip(found, EXPECTED_CLUSTERS):
        assert kept[0] == expected_kept[0] and kept[1].startswith(expected_kept[1])
        assert [(doc, text.startswith(prefix)) for (doc, text), (_, prefix) in zip(members, expected_members)] == [
            (doc, True) for doc, _ in expected_members
        ]

    texts = {doc["id"]: doc["text"] for doc in load(out, "docs.jsonl")}
    for (kept_doc, kept_start), members in EXPECTED_CLUSTERS:
        assert kept_start in texts[kept_doc]
        for doc, start in members:
            if doc != kept_doc:
                assert start not in texts[doc]
    assert texts[A].count("erupted on September 27") == 1


def test_each_removed_copy_names_its_kept_copy(out):
    removed = [(d["id"], r) for d in load(out, "docs.jsonl") for r in d["removed"] if r["stage"] == "dedup"]
    assert len(removed) == sum(len(members) for _, members in EXPECTED_CLUSTERS)
    for doc_id, removal in removed:
        assert removal["rule"] == "DD002" and removal["cluster"].startswith("P")
        assert set(removal["duplicate_of"]) == {"doc", "paragraph"} and 0.5 <= removal["similarity"] <= 1.0


@pytest.mark.parametrize("name", ["docs.jsonl", "clusters.jsonl"])
def test_output_matches_the_golden_files(out, name):
    if os.environ.get("CLEANER_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / name, GOLDEN / name)
    assert (out / name).read_bytes() == (GOLDEN / name).read_bytes(), (
        f"{name} differs from tests/golden/seeds/{name}; if the change is intended, regenerate with "
        "CLEANER_UPDATE_GOLDEN=1 python -m pytest tests/test_seeds.py"
    )


def test_the_fast_shingle_hash_and_datasketchs_sha1_give_the_same_output(out, tmp_path):
    sha1 = tmp_path / "sha1"
    clean_corpus([REPO / "seeds"], sha1, Settings(shingle_hash="sha1"))
    for name in ("docs.jsonl", "clusters.jsonl"):
        assert (sha1 / name).read_bytes() == (out / name).read_bytes()
