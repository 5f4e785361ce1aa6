from __future__ import annotations

import random

import numpy as np
import pytest

from cleaner.config import Settings
from cleaner.dedup import deduplicate, kept_paragraphs
from cleaner.document import Document, Removal, Source
from cleaner.normalise import normalise
from conftest import BACKGROUND, EDITED

TEMPLATE_A = "Shares in Barclays rose 3.2% to 145p on Tuesday after the bank reported profits of £1.2bn for the first half."
TEMPLATE_B = "Shares in Vodafone fell 1.8% to 98p on Friday after the group reported losses of £0.4bn for the first quarter."


def doc(doc_id: str, *paragraphs: str, **meta) -> Document:
    source = Source(f"{doc_id}.txt", "txt", "0" * 64, 0)
    return normalise(Document(id=doc_id, source=source, text="\n\n".join(paragraphs), meta=meta))


def story(n: int) -> str:
    rng = random.Random(n)
    words = "minister city report council water school road price market court police plan".split()
    return " ".join(rng.choice(words) for _ in range(30)) + f" number {n}."


def test_reused_background_paragraph_is_removed_from_later_articles_only():
    docs = [doc("b", story(1), EDITED), doc("a", BACKGROUND, story(2)), doc("c", story(3), BACKGROUND)]
    [cluster] = deduplicate(docs, Settings())
    assert cluster.level == "paragraph" and cluster.canonical.doc == "a"
    assert [(m.item.doc, m.item.paragraph) for m in cluster.members] == [("b", 1), ("c", 1)]
    assert docs[1].removed == []
    [removal] = docs[0].removed
    assert (removal.rule, removal.duplicate_of, removal.cluster) == ("DD002", {"doc": "a", "paragraph": 0}, cluster.id)
    assert 0.6 <= removal.similarity < 1.0
    assert docs[0].cleaned_text() == story(1)
    assert docs[2].removed[0].similarity == 1.0
    assert cluster.to_record()["documents"] == ["a", "b", "c"]


def test_a_paragraph_repeated_inside_one_article_keeps_its_first_occurrence():
    [article] = docs = [doc("a", BACKGROUND, story(1), EDITED, story(2))]
    [cluster] = deduplicate(docs, Settings())
    assert (cluster.canonical.doc, cluster.canonical.paragraph) == ("a", 0)
    assert [(r.start, r.end) for r in article.removed] == [article.paragraphs[2]]
    assert "earlier in this document" in article.removed[0].detail


def test_same_template_different_facts_is_not_merged():
    docs = [doc("a", TEMPLATE_A, story(1)), doc("b", TEMPLATE_B, story(2))]
    assert deduplicate(docs, Settings()) == []


def test_near_duplicate_documents_are_dropped_with_the_kept_copy_named():
    body = [story(n) for n in range(6)]
    copy = [*body[:5], body[5].replace("number", "No.")]
    docs = [doc("z-syndicated", *copy), doc("a-original", *body), doc("other", *(story(n) for n in range(10, 16)))]
    [cluster] = deduplicate(docs, Settings())
    assert (cluster.level, cluster.canonical.doc) == ("document", "a-original")
    assert docs[0].status == "dropped" and docs[0].reason.rule == "DD001"
    assert docs[0].reason.duplicate_of == "a-original" and docs[0].reason.similarity >= 0.8
    assert docs[1].status == docs[2].status == "kept"


def test_exact_duplicates_are_found_whatever_their_quote_and_case_style():
    docs = [doc("a", "“Enough is enough,” he said. " + story(1)), doc("b", '"ENOUGH is enough," he said. ' + story(1))]
    [cluster] = deduplicate(docs, Settings())
    assert cluster.members[0].similarity == 1.0


@pytest.mark.parametrize(
    ("keep", "kept"),
    [("first", "a"), ("longest", "c"), ("earliest", "b")],
)
def test_keep_policy_decides_which_copy_survives(keep, kept):
    docs = [
        doc("c", *(story(n) for n in range(5)), story(99), date="2020-03-01"),
        doc("a", *(story(n) for n in range(5)), date="2020-02-01"),
        doc("b", *(story(n) for n in range(5)), date="2020-01-01"),
    ]
    [cluster] = deduplicate(docs, Settings(keep=keep, threshold=0.7))
    assert cluster.canonical.doc == kept
    assert {d.id for d in docs if d.status == "kept"} == {kept}


def test_members_are_verified_against_the_kept_copy_so_clusters_do_not_chain():
    # a ~ b and b ~ c, but a !~ c: c must not join a's cluster through b.
    words = [f"w{i}" for i in range(40)]
    a = " ".join(words)
    b = " ".join(words[:30] + [f"x{i}" for i in range(10)])
    c = " ".join(words[:20] + [f"x{i}" for i in range(10)] + [f"y{i}" for i in range(10)])
    docs = [doc("a", a), doc("b", b), doc("c", c)]
    clusters = deduplicate(docs, Settings(level="document", threshold=0.55, document_shingling="word-1"))
    assert [(cl.canonical.doc, [m.item.doc for m in cl.members]) for cl in clusters] == [("a", ["b"])]
    assert docs[2].status == "kept"


def test_result_is_independent_of_input_order():
    def run(order):
        docs = [doc("a", BACKGROUND, story(1)), doc("b", story(2), EDITED), doc("c", BACKGROUND, story(3))]
        docs = [docs[i] for i in order]
        clusters = deduplicate(docs, Settings())
        return [c.to_record() for c in clusters], sorted((d.id, [r.start for r in d.removed]) for d in docs)

    assert run([0, 1, 2]) == run([2, 1, 0]) == run([1, 2, 0])


def test_short_paragraphs_are_left_alone():
    docs = [doc("a", "Calls for calm", story(1)), doc("b", "Calls for calm", story(2))]
    assert deduplicate(docs, Settings()) == []


def test_kept_paragraphs_leave_out_what_rules_removed():
    article = doc("a", "READ MORE: elsewhere\nThe real content line.", story(1))
    article.remove(Removal(0, len("READ MORE: elsewhere"), "rules", "BP001", "read-more"))
    assert next(kept_paragraphs(article))[2] == "The real content line."


LONG = (
    "The Minsk Group of the Organisation for Security and Co-operation in Europe, co-chaired by France, "
    "Russia and the US, was formed in 1992 to find a peaceful solution to the conflict, but to no avail. "
    "A ceasefire, however, was agreed upon in 1994 and held for most of the following decades."
)
SHORT = "A ceasefire, however, was agreed upon in 1994 and held for most of the following decades."


def test_a_short_paragraph_inside_a_longer_kept_one_is_removed_as_contained():
    docs = [doc("a", LONG, story(1)), doc("b", story(2), SHORT)]
    [cluster] = deduplicate(docs, Settings())
    [member] = cluster.members
    assert (member.item.doc, member.measure) == ("b", "containment") and member.similarity >= 0.8
    assert "contained in paragraph 0 in a" in docs[1].removed[0].detail


def test_a_longer_paragraph_around_a_kept_short_one_is_kept_for_its_new_text():
    docs = [doc("a", SHORT, story(1)), doc("b", story(2), LONG)]
    assert deduplicate(docs, Settings()) == []
    assert deduplicate(docs, Settings(paragraph_containment=0)) == []


def test_one_corrected_number_still_matches_but_a_refilled_template_does_not():
    corrected = BACKGROUND.replace("1991", "1993")
    docs = [doc("a", BACKGROUND, story(1)), doc("b", story(2), corrected)]
    assert len(deduplicate(docs, Settings())) == 1
    refilled = BACKGROUND.replace("1991", "1988").replace("Azerbaijan", "Georgia").replace("Karabakh", "Abkhazia")
    docs = [doc("a", BACKGROUND, story(1)), doc("b", story(2), refilled)]
    assert deduplicate(docs, Settings()) == []
    docs = [doc("a", BACKGROUND, story(1)), doc("b", story(2), refilled)]
    assert len(deduplicate(docs, Settings(fact_guard=False))) == 1


def test_a_document_with_its_figures_replaced_is_not_a_duplicate():
    report = [f"Sales at the firm rose {n}% in the quarter to {n * 7} million, the company said on Tuesday." for n in (3, 5, 8, 12)]
    other = [f"Sales at the firm rose {n}% in the quarter to {n * 7} million, the company said on Tuesday." for n in (4, 6, 9, 13)]
    docs = [doc("a", *report), doc("b", *other)]
    assert [c.level for c in deduplicate(docs, Settings(level="document"))] == []
    docs = [doc("a", *report), doc("b", *report[:3], report[3].replace("12%", "11%"))]
    assert [c.level for c in deduplicate(docs, Settings(level="document"))] == ["document"]


def test_sketch_agreement_floor_is_the_binomial_tail():
    from math import comb

    from cleaner.dedup import SKETCH_MISS_RATE, _least_agreements

    floor = _least_agreements(64)
    for grid, agree in ((0, 0.0), (300, 0.3), (500, 0.5), (800, 0.8), (1000, 1.0)):
        below = sum(comb(64, m) * agree**m * (1 - agree) ** (64 - m) for m in range(floor[grid]))
        at = below + comb(64, floor[grid]) * agree ** floor[grid] * (1 - agree) ** (64 - floor[grid])
        assert below < SKETCH_MISS_RATE <= at or floor[grid] == 0


def test_containment_floor_is_the_binomial_tail_per_number_of_trials():
    from math import comb

    from cleaner.dedup import SKETCH_MISS_RATE, _least_contained

    floor = _least_contained(128, 0.8)
    assert floor[0] == 0 and not _least_contained(128, 0.0).any()
    for trials in (1, 5, 20, 60, 128):
        cdf = lambda m: sum(comb(trials, k) * 0.8**k * 0.2 ** (trials - k) for k in range(m + 1))
        assert (floor[trials] == 0 or cdf(floor[trials] - 1) < SKETCH_MISS_RATE) and cdf(floor[trials]) >= SKETCH_MISS_RATE
    assert (np.diff(floor) >= 0).all() and (np.diff(floor) <= 1).all()  # one more trial: at most one more agreement


def test_sketch_codes_keep_the_order_of_values():
    from cleaner.dedup import sketch_codes

    rng = np.random.default_rng(7)
    values = np.concatenate([rng.integers(0, 2**32, 20000, dtype=np.uint64), 2 ** rng.integers(0, 32, 2000, dtype=np.uint64)])
    values = np.concatenate([values, np.maximum(values, 1) - 1, [0, 2**32 - 1]]).astype(np.uint32)
    values.sort()
    codes = sketch_codes(values)
    assert (np.diff(codes.astype(np.int64)) >= 0).all()  # a lower code means a lower value
    assert codes[0] == 0 and codes[-1] == 255
    # minimums of sets of 100 values: unequal ones seldom share a code
    a, b = rng.integers(0, 2**32, (2, 5000, 100), dtype=np.uint64).min(axis=2).astype(np.uint32)
    assert np.mean(sketch_codes(a) == sketch_codes(b)) < 0.05


def test_sketch_filter_lets_every_contained_item_through():
    """A short item whose shingles lie 85-100% inside a much longer kept copy (the case the
    containment test rules on) is never ruled out, with or without the kernel."""
    from cleaner import dedup
    from cleaner.fastminhash import Fingerprinter

    rng = random.Random(11)
    words = [f"w{n}x" for n in range(3000)]
    fingerprints = Fingerprinter("char", 5, 128, 1)
    for trial in range(150):
        long = [rng.choice(words) for _ in range(rng.randint(150, 400))]
        start = rng.randrange(len(long) - 40)
        short = long[start : start + rng.randint(12, 40)]
        for _ in range(rng.randint(0, 1)):
            short[rng.randrange(len(short))] = rng.choice(words)
        (kept, item) = fingerprints.fingerprints([" ".join(long), " ".join(short)])[1]
        if np.isin(item, kept).mean() < 0.8:
            continue
        signatures = fingerprints.fingerprints([" ".join(long), " ".join(short)])[0]
        sketches = dedup.Sketches(128, 0.8)
        sketches.add(signatures[0], kept.size)
        for kernel in (True, False):
            rows = np.zeros(1, dtype=np.int32)
            if kernel:
                found = sketches.plausible_earlier(np.zeros(1, dtype=np.int64), rows, signatures[1], item.size, 0.5, 0.8, 0)
            else:
                found = sketches._passing(np.zeros(1, dtype=np.int64), signatures[1], item.size, 0.5, 0.8)
            assert found.tolist() == [0], (trial, kernel)


def _edited_paragraphs(count: int, seed: int) -> list[str]:
    """Paragraphs sharing a vocabulary (so LSH finds many chance candidates), with edited copies."""
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("sta", "lon", "mer", "qui", "bra", "tel", "dro", "pen") for b in ("ve", "ra", "lo", "nd", "x", "ter")]
    paragraphs = []
    for _ in range(count):
        if paragraphs and rng.random() < 0.4:
            base = rng.choice(paragraphs).split()
            for _ in range(rng.randint(1, 8)):
                base[rng.randrange(len(base))] = rng.choice(words)
            paragraphs.append(" ".join(base))
        else:
            paragraphs.append(" ".join(rng.choice(words) for _ in range(rng.randint(10, 40))))
    return paragraphs


def test_compiled_candidate_filter_equals_numpy(monkeypatch):
    """bm_plausible (buckets, stamps and sketches in C) returns, for every item, the candidates
    the numpy path returns: same copies, same order, same sketch decisions."""
    from cleaner import dedup
    from cleaner.fastminhash import Fingerprinter, load_kernel
    from cleaner.lsh import BandIndex

    if load_kernel() is None:
        pytest.skip("no compiled kernel here")
    seen: dict[bool, list[list[int]]] = {True: [], False: []}
    plausible = dedup.Sketches.plausible

    def recording(self, lookups, *rest):
        found = plausible(self, lookups, *rest)
        seen[lookups[0][0].native_map is not None].append(found.tolist())
        return found

    def run(native: bool) -> list:
        with monkeypatch.context() as patch:
            patch.setattr(dedup.Sketches, "plausible", recording)
            if not native:
                patch.setattr(BandIndex, "native_map", property(lambda self: None))
            index = dedup.NearDuplicateIndex(Fingerprinter("char", 5, 128, 1), 0.5, containment=0.8, containment_min_words=8)
            return [index.match_or_keep(dedup.Item("d", n, text)) for n, text in enumerate(_edited_paragraphs(600, seed=5))]

    assert run(native=True) == run(native=False)
    assert seen[True] == seen[False]
    assert sum(len(found) for found in seen[True]) > 100  # the filter let candidates through to compare


def test_compiled_pair_sketch_test_equals_numpy(monkeypatch):
    """A persistent index's sketch test of (item, stored copy) pairs decides in C, reading each
    copy's sketch where it lies, as numpy decides from the gathered rows: near copies, edited
    ones, paragraphs inside longer ones (containment), unrelated ones, short and empty items."""
    from cleaner import dedup
    from cleaner.fastminhash import Fingerprinter, load_kernel

    if load_kernel() is None:
        pytest.skip("no compiled kernel here")
    index = dedup.NearDuplicateIndex(Fingerprinter("char", 5, 128, 1), 0.5, containment=0.8, containment_min_words=8)
    paragraphs = _edited_paragraphs(120, seed=11)
    longer = [paragraphs[n] + " " + paragraphs[n + 1] for n in range(0, 40, 2)]  # items lie inside these
    texts = paragraphs[:60] + ["", "two words"]
    batch = index.feature_batch(texts)
    stored = index.feature_batch(paragraphs[60:] + longer + paragraphs[:20])
    rng = np.random.default_rng(4)
    rows = rng.permutation(len(stored.digests) + 30)  # the copies' rows lie among others, in any order
    held = rng.integers(0, 256, size=(rows.size, 128)).astype(np.uint8)
    sizes = rng.integers(1, 500, size=rows.size).astype("<i4")
    held[rows[: len(stored.digests)]] = dedup.sketch_of(stored.signatures)
    sizes[rows[: len(stored.digests)]] = stored.sizes
    items, copies = (pair.ravel() for pair in np.meshgrid(np.arange(len(texts)), np.arange(len(stored.digests))))
    test = index.sketch_test(batch)
    compiled = test(items, held, sizes, rows[copies])
    monkeypatch.setattr(dedup, "chosen_kernel", lambda: None)
    assert compiled.tolist() == test(items, held, sizes, rows[copies]).tolist()
    assert 0.001 < compiled.mean() < 0.5, compiled.mean()
    assert compiled[items == len(texts) - 2].all()  # an empty item may match anything
    inside = (items < 40) & (copies >= 60) & (copies < 80) & (items // 2 == copies - 60)
    assert compiled[inside].all() and not compiled[(items < 40) & (copies >= 60) & (copies < 80) & ~inside].all()


def test_sketch_filter_changes_no_decision_and_spares_most_comparisons(monkeypatch):
    from cleaner import dedup
    from cleaner.fastminhash import Fingerprinter

    def decisions(filtered: bool) -> tuple[list, int]:
        compared = 0
        measure = dedup.NearDuplicateIndex._measure

        def counting(self, candidate, shared, size):
            nonlocal compared
            compared += 1
            return measure(self, candidate, shared, size)

        with monkeypatch.context() as patch:
            patch.setattr(dedup.NearDuplicateIndex, "_measure", counting)
            if not filtered:  # no agreement count is too low
                patch.setattr(dedup, "_least_agreements", lambda num_perm: np.zeros(dedup._GRID + 1, dtype=np.int64))
                patch.setattr(dedup, "_least_contained", lambda num_perm, containment: np.zeros(num_perm + 1, dtype=np.int64))
            index = dedup.NearDuplicateIndex(Fingerprinter("char", 5, 128, 1), 0.5, containment=0.8, containment_min_words=8)
            found = [index.match_or_keep(dedup.Item("d", number, text)) for number, text in enumerate(_edited_paragraphs(400, seed=3))]
        return found, compared

    unfiltered, compared_all = decisions(filtered=False)
    filtered, compared_some = decisions(filtered=True)
    assert filtered == unfiltered
    assert sum(found is not None for found in filtered) > 100
    assert compared_some < 0.6 * compared_all  # the 4-row bands (cleaner/lsh.py) already rule out most chance pairs



def test_features_computed_in_a_pool_change_nothing(monkeypatch):
    """With features computed by a process pool in chunks (here of 7 texts), the clusters and
    every document's record are those of one process."""
    from cleaner import dedup

    def run(processes: int) -> tuple[list, list]:
        docs = [doc(f"d{n:02}", story(n % 9), BACKGROUND if n % 3 else EDITED, story(100 + n), story(n % 5)) for n in range(40)]
        clusters = [cluster.to_record() for cluster in deduplicate(docs, Settings(workers=processes))]
        return clusters, [d.to_record() for d in docs]

    monkeypatch.setattr(dedup, "FEATURE_CHUNK", 7)
    monkeypatch.setattr(dedup, "FEATURE_POOL_DOCUMENTS", 0)
    started = []
    pool = dedup.feature_pool
    monkeypatch.setattr(dedup, "feature_pool", lambda settings: started.append(settings.processes) or pool(settings))
    alone = run(1)
    assert len(alone[0]) >= 5
    assert run(2) == alone
    assert started == [1, 2]


@pytest.mark.parametrize("text", [
    "word " * 400,  # long: trimmed
    "a" + " " * 900 + "b " * 300,  # its start is mostly spaces: kept whole
    "short paragraph " * 10,
    "x" * 5000,  # one long token
])
def test_clusters_keep_enough_of_a_text_for_every_snippet_shown(text):
    from cleaner import dedup
    from cleaner.dupes import _snippet as dupes_snippet

    item = dedup.Item("d", 0, text)
    kept = dedup.excerpt(item)
    assert len(kept.text) <= max(dedup.EXCERPT_CHARS, len(text)) and text.startswith(kept.text)
    assert dedup._snippet(kept.text, 200) == dedup._snippet(text, 200)
    assert dupes_snippet(kept.text, 72) == dupes_snippet(text, 72)
    if text.startswith("word"):
        assert len(kept.text) == dedup.EXCERPT_CHARS


def test_lookahead_windows_join_consecutive_chunks_up_to_both_bounds():
    """A persistent index's lookups take consecutive chunks together while neither the
    documents nor the band keys pass their bound; a chunk over a bound goes alone; only the
    last window says it is the last."""
    from types import SimpleNamespace

    from cleaner.dedup import _lookahead_windows

    def chunk(name: str, documents: int, keys: int, sentence_keys: int) -> SimpleNamespace:
        batch = SimpleNamespace(keys=np.zeros((keys, 1)), sentence_keys=np.zeros((sentence_keys, 1)))
        return SimpleNamespace(name=name, docs=[None] * documents, batch=batch)

    chunks = [chunk("a", 2, 30, 10), chunk("b", 3, 40, 20), chunk("c", 1, 10, 0), chunk("d", 9, 5, 0), chunk("e", 1, 200, 0), chunk("f", 1, 1, 1)]
    windows = [([c.name for c in window], last) for window, last in _lookahead_windows(chunks, documents=6, keys=100)]
    assert windows == [(["a", "b"], False), (["c"], False), (["d"], False), (["e"], False), (["f"], True)]
    assert list(_lookahead_windows([], documents=6, keys=100)) == []
