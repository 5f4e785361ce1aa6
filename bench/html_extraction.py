"""Article-extraction quality: trafilatura alone vs cleaner's HTML ingest + normalisation.

Measures precision, recall and F1 of word 4-gram shingles against the hand-written article
bodies of the Scrapinghub article-extraction benchmark (the metric of its evaluate.py,
reimplemented here), plus pages per second, for two systems run in the same process:

  trafilatura  trafilatura.extract(html_str, include_comments=False), as the benchmark does
  cleaner      cleaner.ingest.html.extract(raw_bytes), then cleaner.normalise.normalise_text

Run:  python bench/html_extraction.py [--data DIR] [--limit N]
DIR defaults to ../shared/data/scrapinghub_article_extraction_benchmark (from the repo root).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

from cleaner.errors import DocumentError
from cleaner.ingest.html import extract
from cleaner.normalise import normalise_text

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "scrapinghub_article_extraction_benchmark"
UPSTREAM = "github.com/scrapinghub/article-extraction-benchmark (ground-truth.json and html/)"


# --- the benchmark's metric (evaluate.py) ---------------------------------------------------

def shingles(text: str, n: int = 4) -> Counter:
    tokens = re.findall(r"\w+", text, re.UNICODE)
    grams = (tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(gram for gram in grams if gram)


def counts(true: str, pred: str) -> tuple[float, float, float]:
    t, p = shingles(true), shingles(pred)
    tp = sum(min(t[g], p[g]) for g in t.keys() | p.keys())
    fp = sum(max(0, p[g] - t[g]) for g in p)
    fn = sum(max(0, t[g] - p[g]) for g in t)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total > 0 else (tp, fp, fn)


def precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def corpus_scores(items: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    ps = [precision(*c) for c in items if c[0] + c[1] > 0]
    rs = [recall(*c) for c in items if c[0] + c[2] > 0]
    p = sum(ps) / len(ps) if ps else 0.0
    r = sum(rs) / len(rs) if rs else 0.0
    return p, r, f1(p, r)


# --- the two systems ------------------------------------------------------------------------

def run_trafilatura(raw: bytes) -> str:
    return trafilatura.extract(raw.decode("utf-8"), include_comments=False) or ""


def run_cleaner(raw: bytes) -> str:
    try:
        text, _meta = extract(raw)
    except DocumentError:
        return ""
    cleaned, _fixes = normalise_text(text)
    return cleaned


SYSTEMS = {"trafilatura": run_trafilatura, "cleaner": run_cleaner}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()

    truth_path = args.data / "ground-truth.json"
    if not truth_path.is_file():
        print(f"No benchmark data at {args.data}.\nGet ground-truth.json and html/ from {UPSTREAM}"
              f" and pass their folder with --data DIR.")
        return 0

    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    ids = sorted(truth)[: args.limit]
    pages = {item: gzip.decompress((args.data / "html" / f"{item}.html.gz").read_bytes()) for item in ids}

    per_item: dict[str, dict[str, tuple[float, float, float]]] = {}
    rows = []
    for name, system in SYSTEMS.items():
        system(pages[ids[0]])  # warm up (lazy imports, caches) so timings compare fairly
        preds, start = {}, time.perf_counter()
        for item in ids:
            preds[item] = system(pages[item])
        elapsed = time.perf_counter() - start
        per_item[name] = {item: counts(truth[item]["articleBody"], preds[item]) for item in ids}
        rows.append((name, *corpus_scores(list(per_item[name].values())), len(ids) / elapsed))

    print(f"Article extraction, {len(ids)} pages of {args.data}")
    print(f"{'system':<12} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8}")
    for name, p, r, f, speed in rows:
        print(f"{name:<12} {p:>9.4f} {r:>7.4f} {f:>7.4f} {speed:>8.1f}")
    (_, p0, r0, f0, _), (_, p1, r1, f1_, _) = rows
    print(f"{'difference':<12} {p1 - p0:>+9.4f} {r1 - r0:>+7.4f} {f1_ - f0:>+7.4f}   (cleaner - trafilatura)")

    def page_f1(name: str, item: str) -> float:
        c = per_item[name][item]
        return f1(precision(*c), recall(*c))

    worse = [(item, page_f1("trafilatura", item), page_f1("cleaner", item)) for item in ids
             if page_f1("cleaner", item) < page_f1("trafilatura", item)]
    worse.sort(key=lambda w: w[2] - w[1])
    print(f"\nPages where cleaner's F1 is lower than trafilatura's: {len(worse)}")
    for item, f_traf, f_clean in worse[:5]:
        print(f"  {item}  trafilatura {f_traf:.4f}  cleaner {f_clean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
