from __future__ import annotations

import json

from cleaner.document import Document, Flag, Source
from cleaner.explain import RED_STRIKE, RESET, YELLOW_UNDERLINE, explanation_json, render_explanation
from cleaner.normalise import normalise
from cleaner.rules import apply_rules, load_ruleset

SOURCE = Source("a.txt", "txt", "0" * 64, 0)
RULES = load_ruleset()
TEXT = "date 2020-09-29 Fast News\n\nTroops advanced on Tuesday.\n\nREAD MORE: Talks stall\n\nLeave a Reply"


def record_of(text: str) -> dict:
    doc = apply_rules(normalise(Document(id="doc-1", source=SOURCE, text=text)), RULES)
    return json.loads(json.dumps(doc.to_record()))


def test_plain_explanation_marks_every_removed_span_and_says_why():
    record = record_of(TEXT)
    assert record["text"] == "Troops advanced on Tuesday."
    assert render_explanation(record, color=False) == (
        "doc-1  status: kept  lang: -\n"
        "meta: date='2020-09-29', section='Fast News'\n"
        "\n"
        "[-MD001: date 2020-09-29 Fast News-]\n"
        "\n"
        "Troops advanced on Tuesday.\n"
        "\n"
        "[-BP001: READ MORE: Talks stall-]\n"
        "\n"
        "[-BP008: Leave a Reply-]\n"
        "\n"
        "removed (3):\n"
        "  0-27  MD001 date-header (rules): extracted date='2020-09-29', section='Fast News'\n"
        "      'date 2020-09-29 Fast News'\n"
        f"  54-80  BP001 read-more (rules): {RULES.get('BP001').summary}\n"
        "      'READ MORE: Talks stall'\n"
        f"  80-93  BP008 comments-footer (rules): {RULES.get('BP008').summary}\n"
        "      'Leave a Reply'\n"
    )


def test_colour_explanation_strikes_removed_text_in_red():
    text = render_explanation(record_of(TEXT), color=True)
    assert f"{RED_STRIKE}READ MORE: Talks stall{RESET}" in text
    assert "[-" not in text


def test_json_explanation_holds_the_normalised_text_and_spans_in_order():
    record = record_of(TEXT)
    explanation = explanation_json(record)
    assert explanation["text"] == TEXT
    assert [(s["kind"], s["rule"], explanation["text"][s["start"] : s["end"]].strip()) for s in explanation["spans"]] == [
        ("removed", "MD001", "date 2020-09-29 Fast News"),
        ("removed", "BP001", "READ MORE: Talks stall"),
        ("removed", "BP008", "Leave a Reply"),
    ]
    assert json.loads(json.dumps(explanation)) == explanation


def test_flags_are_marked_and_listed():
    doc = normalise(Document(id="doc-2", source=SOURCE, text="Kept line.\n\nA flagged line."))
    doc.flags.append(Flag(12, 27, "rules", "XX001", "test-flag", "looks odd"))
    record = doc.to_record()
    plain = render_explanation(record, color=False)
    assert "Kept line.\n\n[!XX001: A flagged line.!]\n" in plain
    assert "flagged (1):\n  12-27  XX001 test-flag (rules): looks odd\n      'A flagged line.'\n" in plain
    assert f"{YELLOW_UNDERLINE}A flagged line.{RESET}" in render_explanation(record, color=True)


def test_dropped_document_shows_its_reason():
    record = record_of("404 Not Found")
    plain = render_explanation(record, color=False)
    assert plain.startswith("doc-1  status: dropped  lang: -\nreason: BP014 stub-page (rules): ")
    assert plain.endswith("404 Not Found\n\nnothing removed or flagged\n")
