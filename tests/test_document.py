from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner import document
from cleaner.document import Document, Removal, Source, cut_spans, cut_text, rebuild_text, split_paragraphs

SOURCE = Source("a.txt", "txt", "0" * 64, 0)


def make(text: str) -> Document:
    return Document(id="a", source=SOURCE, text=text, paragraphs=list(split_paragraphs(text)))


def removal(start: int, end: int, rule: str = "T001") -> Removal:
    return Removal(start, end, "test", rule, "test-rule")


def test_removing_a_middle_paragraph_keeps_one_blank_line():
    doc = make("one\n\ntwo\n\nthree")
    doc.remove(removal(5, 8))
    assert doc.cleaned_text() == "one\n\nthree"
    record = doc.to_record()
    assert [(r["start"], r["end"], r["text"]) for r in record["removed"]] == [(5, 10, "two\n\n")]


def test_removing_first_and_last_paragraphs_leaves_no_edge_whitespace():
    doc = make("one\n\ntwo\n\nthree")
    doc.remove(removal(0, 3))
    doc.remove(removal(10, 15))
    assert doc.cleaned_text() == "two"
    assert rebuild_text("two", doc.to_record()["removed"]) == doc.text


def test_removing_a_line_keeps_the_paragraph_break_around_it():
    doc = make("intro\n\nREAD MORE: x\nbody line")
    doc.remove(removal(7, 19))
    assert doc.cleaned_text() == "intro\n\nbody line"


def test_removing_a_phrase_inside_a_line_leaves_one_space():
    doc = make("Armenia shelled villages pic.twitter.com/AB12 today")
    start = doc.text.index("pic.")
    doc.remove(removal(start, start + len("pic.twitter.com/AB12")))
    assert doc.cleaned_text() == "Armenia shelled villages today"


def test_overlapping_removals_are_clipped_not_counted_twice():
    doc = make("keep\n\nline one\nline two\n\nkeep")
    doc.remove(removal(6, 14, "A001"))
    doc.remove(removal(6, 23, "B001"))
    rules = [(r.rule, doc.text[r.start : r.end]) for r in doc.removed]
    assert rules == [("A001", "line one"), ("B001", "\nline two")]
    assert doc.cleaned_text() == "keep\n\nkeep"


def test_lines_iterates_every_line_of_every_paragraph():
    doc = make("a\nbb\n\nccc")
    assert [doc.text[s:e] for _, s, e in doc.lines()] == ["a", "bb", "ccc"]
    assert [p for p, _, _ in doc.lines()] == [0, 0, 1]


# Normalised texts: paragraphs of lines of words, joined as normalise joins them.
words = st.text(alphabet="abcXYZ.,é—", min_size=1, max_size=6)
lines = st.lists(words, min_size=1, max_size=4).map(" ".join)
paragraphs = st.lists(lines, min_size=1, max_size=3).map("\n".join)
normalised_texts = st.lists(paragraphs, min_size=1, max_size=6).map("\n\n".join)


@st.composite
def text_with_removals(draw):
    text = draw(normalised_texts)
    doc = make(text)
    units = [(s, e) for _, s, e in doc.lines()] + doc.paragraphs
    words_spans = []
    position = 0
    for word in text.replace("\n", " ").split(" "):
        words_spans.append((position, position + len(word)))
        position += len(word) + 1
    choices = draw(st.lists(st.sampled_from(units + words_spans), max_size=6))
    for start, end in choices:
        doc.remove(removal(start, end))
    return doc


@given(text_with_removals())
def test_cleaned_text_plus_removed_spans_rebuilds_the_normalised_text(doc):
    record = doc.to_record()
    assert rebuild_text(record["text"], record["removed"]) == doc.text
    for span in record["removed"]:
        assert doc.text[span["start"] : span["end"]] == span["text"]


@given(text_with_removals())
def test_cleaned_text_keeps_the_layout_tidy(doc):
    cleaned = doc.cleaned_text()
    assert cleaned == cleaned.strip()
    assert "\n\n\n" not in cleaned
    assert "  " not in cleaned
    assert " \n" not in cleaned and "\n " not in cleaned


@given(text_with_removals())
def test_cuts_do_not_overlap(doc):
    cuts = cut_spans(doc.text, doc.removed)
    for (s1, e1, _), (s2, e2, _) in zip(cuts, cuts[1:]):
        assert e1 <= s2
    assert cut_text(doc.text, cuts) == doc.cleaned_text()


def _cut_spans_by_tokens(text: str, removals: list[Removal]) -> list:
    """cut_spans as first written: every word and space of the text tokenised (the reference)."""
    ordered = sorted(removals, key=lambda r: (r.start, r.end))
    if not ordered:
        return []
    # Segments in text order: ("R", number, start, end) for removed spans, ("W", start, end) for
    # whitespace, ("K", start, end) for kept non-whitespace.
    segments: list[tuple[Any, ...]] = []
    position = 0
    for number in range(len(ordered) + 1):
        stop = ordered[number].start if number < len(ordered) else len(text)
        for match in re.compile(r"\s+|\S+").finditer(text, position, stop):
            kind = "W" if match.group().isspace() else "K"
            segments.append((kind, match.start(), match.end()))
        if number < len(ordered):
            segments.append(("R", number, ordered[number].start, ordered[number].end))
            position = ordered[number].end

    cuts: dict[int, list[int]] = {}
    index = 0
    while index < len(segments):
        if segments[index][0] == "K":
            index += 1
            continue
        gap_start = index
        while index < len(segments) and segments[index][0] != "K":
            index += 1
        gap = segments[gap_start:index]
        if not any(segment[0] == "R" for segment in gap):
            continue
        bounded = gap_start > 0 and index < len(segments)
        kept = None
        if bounded:
            spaces = [segment for segment in gap if segment[0] == "W"]
            if spaces:
                kept = max(spaces, key=lambda s: (document._break_strength(text[s[1] : s[2]]), -s[1]))
        document._attach_whitespace(gap, kept, cuts)
    return sorted(((start, end, ordered[number]) for number, (start, end) in cuts.items()), key=lambda c: c[0])


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_cut_spans_looks_only_around_removals_and_cuts_as_tokenising_all(data):
    text = data.draw(st.text(alphabet=st.sampled_from(list("ab. \n\t\u00a0\u2028")), max_size=60))
    bounds = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds) - 1, 2) if bounds[i] < bounds[i + 1]]
    removals = [Removal(start, end, "rules", "BP001", "read-more") for start, end in pieces]
    data.draw(st.randoms()).shuffle(removals)
    assert cut_spans(text, removals) == _cut_spans_by_tokens(text, removals)
