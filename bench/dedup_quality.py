"""Quality of cleaner's dedup engine, end to end, on labelled pairs.

Where `dedup_shingling.py` compares similarity measures with exact set arithmetic, this runs the
real engine: `cleaner.dedup.deduplicate` over two normalised documents per pair (MinHash
signatures, LSH candidates, exact verification, containment and the fact guard), with cleaner's
default settings unless flags say otherwise. A pair counts as merged when the engine puts its two
sides in one cluster. It also deduplicates the whole BBC corpus at document level and scores the
clusters against the real near-duplicate pairs (word 3-gram Jaccard >= 0.5, exact over all pairs).

Run:  python bench/dedup_quality.py [--data DIR] [--seed 0] [--levels para,pan,doc,bbc,seeds]
Data: ../shared/data (bbc_fulltext.tar.gz, pan13_text_alignment_training.tar.gz); when absent
the script says where to get it and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup_data as dd  # noqa: E402

from cleaner.config import Settings  # noqa: E402
from cleaner.dedup import deduplicate  # noqa: E402
from cleaner.document import Document, Source  # noqa: E402
from cleaner.normalise import normalise  # noqa: E402

SOURCE = Source("pair.txt", "txt", "0" * 64, 0)


def document(doc_id: str, text: str) -> Document:
    return normalise(Document(id=doc_id, source=SOURCE, text=text))


def merged(pair: dd.Pair, settings: Settings) -> bool:
    """Whether the engine clusters the two sides of a pair (as documents or as paragraphs)."""
    docs = [document("a", pair.a), document("b", pair.b)]
    return any(deduplicate(docs, settings))


def score(pairs: list[dd.Pair], settings: Settings, title: str) -> None:
    started = time.perf_counter()
    results = [(pair, merged(pair, settings)) for pair in pairs if pair.label in (0, 1)]
    seconds = time.perf_counter() - started
    tp = sum(1 for p, m in results if m and p.label == 1)
    fp = sum(1 for p, m in results if m and p.label == 0)
    fn = sum(1 for p, m in results if not m and p.label == 1)
    hard = [m for p, m in results if p.label == 0 and p.hard]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"\n{title}: {len(results)} labelled pairs, {len(results) / seconds:.0f} pairs/s")
    print(f"  precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  hard negatives merged {sum(hard)} of {len(hard)}")
    for field in ("kind", "bucket"):
        groups: dict[str, list[bool]] = defaultdict(list)
        for pair, was_merged in results:
            groups[getattr(pair, field)].append(was_merged == (pair.label == 1))
        print(f"  correct by {field}: " + ", ".join(f"{k} {sum(v) / len(v):.3f} ({len(v)})" for k, v in sorted(groups.items())))


def score_bbc_corpus(articles: list[dd.Article], settings: Settings) -> None:
    """Deduplicate all BBC articles at once and compare the clusters with the exact near-dup pairs."""
    truth = {(articles[i].id, articles[j].id) for i, j, *_ in dd.bbc_near_duplicate_pairs(articles)}
    truth |= {(b, a) for a, b in truth}
    docs = [document(article.id, article.text) for article in articles]
    started = time.perf_counter()
    clusters = deduplicate(docs, settings.updated(level="document"))
    seconds = time.perf_counter() - started
    found = set()
    for cluster in clusters:
        members = [cluster.canonical.doc, *(m.item.doc for m in cluster.members)]
        found |= {(x, y) for x in members for y in members if x != y}
    kept_truth = {(a, b) for a, b in truth}
    tp = len(found & kept_truth) // 2
    print(f"\nBBC corpus, document level: {len(docs)} articles in {seconds:.1f} s; {len(clusters)} clusters")
    print(f"  real near-duplicate pairs (word-3 J >= 0.5): {len(truth) // 2}; found in one cluster: {tp}")
    print(f"  pairs in one cluster but below J 0.5 (containment or members of one kept copy): {(len(found) - len(found & kept_truth)) // 2}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="para,pan,doc,bbc,seeds")
    parser.add_argument("--pan-max-per-set", type=int, default=400)
    args = parser.parse_args()
    levels = set(args.levels.split(","))
    problems = dd.missing(args.data, dd.BBC_ARCHIVE, dd.PAN_ARCHIVE)
    if problems:
        print("\n".join(problems))
        return 0
    settings = Settings()
    print(
        f"cleaner dedup engine, default settings: paragraphs {settings.paragraph_shingling} J>={settings.paragraph_threshold} "
        f"or C>={settings.paragraph_containment}; documents {settings.document_shingling} J>={settings.threshold} "
        f"or C>={settings.document_containment}; fact guard {'on' if settings.fact_guard else 'off'}"
    )
    articles = dd.load_bbc(args.data) if levels & {"para", "doc", "bbc"} else []
    if "seeds" in levels:
        score(dd.seed_pairs(), settings.updated(level="paragraph"), "seeds/ paragraphs quoted in issue 4")
    if "para" in levels:
        score(dd.paragraph_pairs(articles, seed=args.seed), settings.updated(level="paragraph"), "BBC paragraphs (edited copies vs templates)")
    if "pan" in levels:
        pairs = dd.pan13_pairs(args.data, seed=args.seed, max_per_set=args.pan_max_per_set)
        score(pairs, settings.updated(level="paragraph"), "PAN-13 passages (verbatim + random edits vs no plagiarism)")
    if "doc" in levels:
        score(dd.document_pairs(articles, seed=args.seed), settings.updated(level="document"), "BBC documents (edited copies vs same story/templates)")
    if "bbc" in levels:
        score_bbc_corpus(articles, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
