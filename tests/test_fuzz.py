"""Fuzzing the whole pipeline with messy generated corpora.

Documents mix scripts, control characters, mojibake, huge lines, boilerplate-like lines, random
blank-line layouts and (in JSON Lines, where the format allows them) lone surrogates; they are
written as text, HTML and JSON Lines files and cleaned with `clean_corpus`. Whatever comes in, no
exception escapes, every input document is in docs.jsonl exactly once, the output passes
`verify_output`, and each document's normalised text is rebuilt exactly from its record.
"""

from __future__ import annotations

import html
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (registers "sloppy-windows-1252")
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from cleaner import Settings, clean_corpus, normalise_text, rebuild_text
from cleaner.ingest.text import looks_binary
from cleaner.verify import verify_output

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

SCRIPTS = [
    st.characters(min_codepoint=0x20, max_codepoint=0x24F, blacklist_categories=("Cs",)),  # Latin
    st.characters(min_codepoint=0x400, max_codepoint=0x4FF),  # Cyrillic
    st.characters(min_codepoint=0x370, max_codepoint=0x3FF),  # Greek
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),  # CJK
    st.characters(min_codepoint=0x600, max_codepoint=0x6FF),  # Arabic
    st.characters(min_codepoint=0x900, max_codepoint=0x97F),  # Devanagari
    st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),  # emoji
]
CONTROLS = [chr(c) for c in range(0x00, 0x20) if c != 0x0A] + [chr(c) for c in range(0x7F, 0xA0)]
CONTROLS += ["\u200b", "\u00ad", "\ufeff", "\u2028", "\u2029", "\x1b[31m", "\x1b[0m", "&amp;", "&#8217;", "\ufb01", "\uff21"]
BOILERPLATE = [
    "Read more: Ministers meet in Baku to discuss the ceasefire",
    "Advertisement",
    "Story continues below advertisement",
    "Share this article",
    "Follow us on Twitter and Facebook",
    "Home / News / World",
    "Related: Storm hits the coast again",
    "Photo: Reuters",
    "WATCH: The moment the bridge collapsed",
    "\u2014 Jane Doe (@jdoe) May 3, 2021",
    "date 2020-10-31 BAKU, Azerbaijan, Oct. 31",
    "Trend:",
]
SEPARATORS = ["\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n \n", "\n\t\n", "\u2029", "\r", "\n \u00a0\n"]

words = st.one_of(*(st.text(alphabet=script, min_size=1, max_size=12) for script in SCRIPTS))
sentences = st.lists(words, min_size=1, max_size=14).map(" ".join)


@st.composite
def mojibake(draw: st.DrawFn) -> str:
    """UTF-8 read as windows-1252 or Latin-1, once or twice: the damage ftfy exists to repair."""
    text = draw(sentences)
    for _ in range(draw(st.integers(1, 2))):
        text = text.encode("utf-8").decode(draw(st.sampled_from(["sloppy-windows-1252", "latin-1"])))
    return text


@st.composite
def with_controls(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.one_of(sentences, st.sampled_from(CONTROLS)), min_size=1, max_size=8))
    return "".join(pieces)


huge_lines = st.tuples(words, st.integers(200, 1000)).map(lambda pair: " ".join([pair[0]] * pair[1]))
lines = st.one_of(sentences, sentences, mojibake(), with_controls(), st.sampled_from(BOILERPLATE), huge_lines)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A document: paragraphs of lines, joined by a random mix of blank-line layouts."""
    paragraphs = draw(st.lists(st.lists(lines, min_size=1, max_size=4).map("\n".join), min_size=0, max_size=6))
    text = ""
    for paragraph in paragraphs:
        text += paragraph + draw(st.sampled_from(SEPARATORS))
    return draw(st.sampled_from(["", " ", "\n", "\ufeff"])) + text


@st.composite
def surrogate_documents(draw: st.DrawFn) -> str:
    """A document with lone surrogates, which only JSON Lines (as \\uD800 escapes) can carry."""
    text = draw(documents())
    surrogate = chr(draw(st.integers(0xD800, 0xDFFF)))
    at = draw(st.integers(0, len(text)))
    return text[:at] + surrogate + text[at:]


@dataclass
class Corpus:
    """Files to write, and for each input document (path, record) the text it holds."""

    files: dict[str, bytes]
    texts: dict[tuple[str, int | None], str]


@st.composite
def corpora(draw: st.DrawFn) -> Corpus:
    """A few text, HTML and JSON Lines files; some documents repeat earlier ones (for dedup)."""
    files: dict[str, bytes] = {}
    texts: dict[tuple[str, int | None], str] = {}
    pool: list[str] = []

    def document() -> str:
        if pool and draw(st.integers(0, 4)) == 0:
            return draw(st.sampled_from(pool))
        text = draw(documents())
        pool.append(text)
        return text

    for number in range(draw(st.integers(1, 4))):
        text = document()
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
        files[f"doc{number}.txt"] = text.encode(encoding)
        texts[(f"doc{number}.txt", None)] = text
    if draw(st.booleans()):
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in document().split("\n\n"))
        files["page.html"] = f"<html><head><title>t</title></head><body><article>{paragraphs}</article></body></html>".encode()
    if draw(st.booleans()):
        records = []
        for line in range(1, draw(st.integers(1, 5)) + 1):
            text = draw(surrogate_documents()) if draw(st.booleans()) else document()
            record: dict[str, object] = {"text": text}
            if draw(st.booleans()):
                record["id"] = draw(st.sampled_from(["a", "a", "../../up", "/abs", "x/y", "", "wire-1"]))
            has_surrogate = any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
            records.append(json.dumps(record, ensure_ascii=has_surrogate or draw(st.booleans())))
            texts[("feed.jsonl", line)] = text
        files["feed.jsonl"] = ("\n".join(records) + "\n").encode("utf-8")
    return Corpus(files, texts)


def clean(files: dict[str, bytes], folder: Path) -> tuple[Path, list[dict]]:
    corpus = folder / "in"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    out = folder / "out"
    clean_corpus([corpus], out, Settings())
    docs = [json.loads(line) for line in (out / "docs.jsonl").read_bytes().decode("utf-8").splitlines()]
    return out, docs


@FUZZ
@given(corpora())
@example(Corpus({"a.txt": "\ufeffÂ€ ä¹’\n".encode("utf-8")}, {("a.txt", None): "\ufeffÂ€ ä¹’\n"}))  # found by hypothesis
@example(Corpus({"a.txt": "\ufeff\ufeffÂ€0Ä‘\n".encode("utf-8")}, {("a.txt", None): "\ufeff\ufeffÂ€0Ä‘\n"}))  # found by hypothesis
def test_messy_corpora_go_through_the_whole_pipeline_and_keep_every_invariant(corpus):
    with tempfile.TemporaryDirectory() as folder:
        out, docs = clean(corpus.files, Path(folder))
        assert verify_output(out) == []
    sources = sorted((doc["source"]["path"], doc["source"]["record"]) for doc in docs)
    expected = sorted([*corpus.texts, *([("page.html", None)] if "page.html" in corpus.files else [])])
    assert sources == expected
    for doc in docs:
        event(f"status {doc['status']}" + (f" ({doc['reason']['name']})" if doc["reason"] else ""))
        for rule in sorted({fix["rule"] for fix in doc["fixes"]} | {span["rule"] for span in doc["removed"]}):
            event(f"rule {rule}")
        original = corpus.texts.get((doc["source"]["path"], doc["source"]["record"]))
        if original is not None and doc["source"]["format"] == "txt":
            # A text file's leading U+FEFF is its byte-order mark, which ingest takes off before
            # normalising (it can change what ftfy repairs: "\ufeffÂ€ ä¹’" vs "Â€ ä¹’").
            original = original.removeprefix("\ufeff")
        if original is not None and doc["status"] != "error":
            assert rebuild_text(doc["text"], doc["removed"]) == normalise_text(original)[0]


@settings(FUZZ, max_examples=60)
@given(st.one_of(documents(), surrogate_documents()), st.sampled_from(["txt", "jsonl"]))
def test_the_normalised_text_is_rebuilt_exactly_from_docs_jsonl(text, form):
    if form == "txt":
        text = text.encode("utf-8", "replace").decode("utf-8")  # a text file cannot hold a lone surrogate
        files = {"doc.txt": text.encode("utf-8")}
    else:
        files = {"feed.jsonl": (json.dumps({"text": text}) + "\n").encode("utf-8")}
    with tempfile.TemporaryDirectory() as folder:
        out, [doc] = clean(files, Path(folder))
        assert verify_output(out) == []
    # A text file's leading BOM is its encoding mark, consumed by the reader, not text.
    normalised = normalise_text(text.removeprefix("\ufeff") if form == "txt" else text)[0]
    if form == "txt" and looks_binary(text.encode("utf-8")):
        assert (doc["status"], doc["reason"]["name"]) == ("error", "binary")
    elif normalised.strip():
        assert doc["status"] in ("kept", "dropped")
        assert rebuild_text(doc["text"], doc["removed"]) == normalised
    else:
        assert (doc["status"], doc["reason"]["name"]) == ("error", "empty")
