from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.document import Document, Source
from cleaner.normalise import normalise, normalise_text

SOURCE = Source("a.txt", "txt", "0" * 64, 0)


def rules_of(fixes):
    return [fix.rule for fix in fixes]


def test_mojibake_is_fixed_and_explained():
    text, fixes = normalise_text("The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.")
    assert text == "The Mona Lisa doesn’t have eyebrows."
    assert rules_of(fixes) == ["NM001"]
    assert "decode utf-8" in fixes[0].detail


def test_curly_quotes_are_content_and_stay():
    text, fixes = normalise_text("“Enough is enough,” he said.")
    assert text == "“Enough is enough,” he said."
    assert fixes == []


def test_html_entities_and_control_characters_are_fixed():
    text, fixes = normalise_text("Tom &amp; Jerry\x1b[31m red")
    assert text == "Tom & Jerry red"
    assert set(rules_of(fixes)) == {"NM002", "NM003"}


def test_one_paragraph_per_line_layout_becomes_blank_line_separated():
    text, fixes = normalise_text("Title\nFirst paragraph.\nSecond paragraph.")
    assert text == "Title\n\nFirst paragraph.\n\nSecond paragraph."
    assert "NM009" in rules_of(fixes)


def test_blank_line_layout_keeps_paragraphs_and_collapses_extra_blank_lines():
    text, _ = normalise_text(" date 2020-09-29 Fast News\n\nFirst one.\n\n\n\nSecond one.  \n")
    assert text == "date 2020-09-29 Fast News\n\nFirst one.\n\nSecond one."


def test_hard_wrapped_paragraphs_keep_their_line_breaks():
    wrapped = (
        "The conflict between the two countries began in 1988 when\n"
        "Armenia made territorial claims against its neighbour and the\n"
        "war that followed displaced many.\n\n"
        "The ceasefire agreement of 1994 was followed by talks that\n"
        "went on for many years without result."
    )
    text, _ = normalise_text(wrapped)
    assert text == wrapped


def test_blank_line_layout_with_a_two_line_embed_keeps_the_embed_together():
    raw = "Intro paragraph.\n\nTweet text pic.twitter.com/x\n— Name (@name) May 1, 2020\n\nOutro paragraph."
    text, _ = normalise_text(raw)
    assert text == raw


def test_spaces_collapse_and_invisible_characters_go():
    text, fixes = normalise_text("a  b\tc\u200bd\u00ade")
    assert text == "a b cde"
    assert set(rules_of(fixes)) == {"NM007", "NM008"}


def test_lone_surrogates_become_replacement_characters():
    text, fixes = normalise_text("bad \ud800 char")
    assert text == "bad \ufffd char"
    assert "NM003" in rules_of(fixes)


def test_text_is_composed_to_nfc():
    text, fixes = normalise_text("cafe\u0301")
    assert text == "café"
    assert rules_of(fixes) == ["NM005"]


def test_normalise_finds_paragraph_spans_and_flags_empty_documents():
    doc = normalise(Document(id="a", source=SOURCE, text="one\ntwo"))
    assert [doc.text[s:e] for s, e in doc.paragraphs] == ["one", "two"]
    empty = normalise(Document(id="b", source=SOURCE, text=" \u200b \n\t"))
    assert (empty.status, empty.reason.name) == ("error", "empty")


messy = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(list("\n\n\n \t\r\x0b\x0c\u2028\u00a0\u200bÃ©â€™&amp;;#\x1b\u0301")),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(messy)
def test_normalise_never_raises_and_is_idempotent(raw):
    once, _ = normalise_text(raw)
    twice, fixes = normalise_text(once)
    assert twice == once, fixes


@settings(max_examples=200, deadline=None)
@given(messy)
def test_normalised_text_has_the_canonical_layout(raw):
    text, _ = normalise_text(raw)
    assert text == text.strip()
    assert "\n\n\n" not in text
    assert "\r" not in text
    for line in text.split("\n"):
        assert line == line.strip()
        assert "  " not in line


_SUSPECTS = sorted(
    {chr(point) for point in range(0x80, 0x250)}
    | set("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ°±²³µ¶·¸¹º»¼½¾ГўВЂРСΒΓΞΟβάā√≈∂≠≤≥×ØÙàÃÂÎÐ")
)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"abcXYZ .,?!'\"\n\t-19", *_SUSPECTS]), max_size=80), st.text(alphabet="abc def.\n", max_size=40))
def test_looks_bad_equals_ftfy_is_bad(text, padding):
    from ftfy.badness import is_bad

    from cleaner.normalise import looks_bad

    for candidate in (text, padding + text, text + padding, padding + text + padding + text):
        assert looks_bad(candidate) == is_bad(candidate), repr(candidate)
