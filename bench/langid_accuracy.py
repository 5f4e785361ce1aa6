"""Language identification: langdetect (as cleaner.langid runs it) on Europarl, by text length.

For each sentence of the Europarl test set ('<lang>\\t<sentence>' per line, 21 languages), runs
`cleaner.langid.language_probabilities` and reports per length bucket (characters):

  accuracy       the most likely language is the right one
  confident      its probability is >= the threshold
  confident-wrong  confident AND wrong: how often a paragraph in the document's own language
                   would be removed as foreign (the false positives LG001 must avoid)

plus the confident-wrong rate at several thresholds, from the minimum paragraph length on.

Run:  python bench/langid_accuracy.py [--data FILE] [--per-lang N] [--workers N]
FILE defaults to ../shared/data/langdetect_europarl_test/europarl.test (from the repo root).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cleaner.langid import FOREIGN_PROBABILITY, MIN_PARAGRAPH_CHARS, language_probabilities

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


def bucket_name(low: int, high: int) -> str:
    return f"{low}+" if high >= 10**9 else f"{low}-{high - 1}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="europarl.test file")
    parser.add_argument("--per-lang", type=int, default=None, help="at most N sentences per language")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"No Europarl test file at {args.data}.\nGet it from {UPSTREAM} and pass it with --data FILE.")
        return 0

    sentences = read_sentences(args.data, args.per_lang)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        guesses = list(pool.map(top_guess, [text for _, text in sentences], chunksize=200))
    seconds = time.perf_counter() - started
    print(f"langdetect (seed pinned) on {len(sentences):,} Europarl sentences, "
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


if __name__ == "__main__":
    sys.exit(main())
