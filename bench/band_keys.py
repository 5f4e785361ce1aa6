"""How many LSH bucket entries sit under band keys that two or more items hold (issue 6).

Only such a key can ever bring a candidate, so the share says how far storing the others could
shrink dedup's buckets, and how it grows with the corpus. Every item of each level (documents,
then their paragraphs, before any is dropped) is fingerprinted as dedup does; the distinct
(key, item) pairs of each index are counted.

  python bench/band_keys.py --docs 10000,40000     # ~2 min and ~5 GB at 40k

The per-document output comes from bench/dedup_scale.py's cache (--work).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleaner import dedup  # noqa: E402
from cleaner.config import Settings  # noqa: E402


def shares(documents: list, level: str, settings: Settings) -> dict[str, tuple[int, float]]:
    """Per index of the level: (entries, share of them under keys that 2+ items hold)."""
    texts = [text for doc in documents if doc.status == "kept" for _, _, text in dedup._items(doc, level, settings)]
    index = dedup.level_index(settings, level)
    found: dict[str, list[np.ndarray]] = {"bands": [], "sentence bands": []}
    for start in range(0, len(texts), 2048):
        batch = index.feature_batch(texts[start : start + 2048])
        owners = np.arange(start, start + len(batch.digests))
        found["bands"].append(np.stack([batch.keys.ravel(), np.repeat(owners, batch.keys.shape[1]).astype(np.uint64)], 1))
        if batch.sentence_keys.size:
            rows = np.repeat(owners, np.diff(batch.sentence_starts))
            keys = batch.sentence_keys
            found["sentence bands"].append(np.stack([keys.ravel(), np.repeat(rows, keys.shape[1]).astype(np.uint64)], 1))
    result = {}
    for name, parts in found.items():
        if parts:
            pairs = np.unique(np.concatenate(parts), axis=0)
            _, counts = np.unique(pairs[:, 0], return_counts=True)
            result[name] = (len(pairs), float(counts[counts >= 2].sum() / len(pairs)))
    return result


def main(argv: list[str] | None = None) -> int:
    from dedup_scale import prepared_documents

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", default="10000", help="comma-separated corpus sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cleaner-bench")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.docs.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    with prepared_documents(args.work, sizes[-1], args.seed).open("rb") as handle:
        documents = pickle.load(handle)
    settings = Settings(workers=1)
    print("| documents | level | index | entries | under keys 2+ items hold |")
    print("|---|---|---|---|---|")
    for size in sizes:
        for level in ("document", "paragraph"):
            for name, (entries, share) in shares(documents[:size], level, settings).items():
                print(f"| {size:,} | {level} | {name} | {entries:,} | {share:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
