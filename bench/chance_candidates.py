"""Chance LSH candidates per pair of paragraphs: real news (BBC) against bench/corpus.py's text.

Two unrelated paragraphs from different documents that share a band key are a chance
candidate: nothing to find, but the index names it and dedup tests it. The rate per pair of
paragraphs does not shrink as the index grows, so a new paragraph meets about rate x stored
such copies. The index-scale benchmarks (bench/index.py, bench/index_scale.py) run on
bench/corpus.py's synthetic corpus, whose body text is a word-bigram chain fitted to the BBC:
if its paragraphs collide less often than real news does, those benchmarks understate the
candidates (and the time) of a real index of the same size. This measures by how much.

Both corpora bring the same number of paragraphs: every paragraph of the BBC articles, and the
paragraphs of the synthetic corpus's original documents (its labels say which), in corpus
order, until there are as many. Their features are computed as dedup computes them at the
paragraph level (`Settings()`, `normalise`, `dedup._items`, `level_index(...).feature_batch`).
Every pair of paragraphs from different documents that shares a paragraph band key, a
sentence band key, or either (what one lookup in the index names) is found; it is chance when
the exact Jaccard of its shingles is below CHANCE_BELOW (above it: copies, reused background
paragraphs, the same story told twice). Per corpus and key space the tables give:

  per pair           chance pairs / all pairs of paragraphs from different documents
  past sketch test   share of the chance pairs that dedup's own sketch test (the later
                     paragraph as the new item, the earlier as the stored copy) lets through
                     to exact verification
  per new paragraph  per pair x --stored: the chance candidates one new paragraph brings
                     against an index of that many paragraphs (13M: 1M documents of the
                     synthetic corpus), before and after the sketch test

and the exact Jaccard of RANDOM_PAIRS random cross-document pairs, which is what the band keys
sample: the further its upper tail reaches, the more pairs a band key brings together. Each
rate is compared as BBC / synthetic.

Data: the BBC full-text corpus (2,225 articles, Greene & Cunningham 2006), read straight from
../shared/data/bbc_fulltext.tar.gz (from the repo root; --data for another folder). The
synthetic corpus is generated from it by bench/corpus.py into --work (a temporary folder by
default) and reused there. Its reused background paragraphs come from a pool of
max(200, documents / 50) BBC paragraphs (at most all 8,969 of 20+ words), so at a few thousand
documents each comes back a few times among the original documents measured, where at 1M
documents it rarely does. A pair of such copies is not chance (Jaccard >= 0.3), so the rate per
pair moves little (the union rate was 5.0-5.6e-5 over seeds 0-3 and --docs 50000, 5.2e-5 at
1M), but a random pair may be two such copies (the synthetic row's max). --seed and --docs
change the sample.

Run:
  python bench/chance_candidates.py [--data DIR] [--work DIR] [--docs 2000] [--stored 13000000]
Takes about 40 s (one process) and ~300 MB of memory.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import BBC_ARCHIVE, DEFAULT_DATA  # noqa: E402  (bench/corpus.py)
from dedup_data import missing  # noqa: E402  (says where to get an archive)

from cleaner import dedup  # noqa: E402
from cleaner.config import Settings  # noqa: E402
from cleaner.dedup import FeatureBatch, NearDuplicateIndex, level_index, sketch_of  # noqa: E402
from cleaner.minhash import jaccard  # noqa: E402
from cleaner.document import Document, Source  # noqa: E402
from cleaner.normalise import normalise  # noqa: E402

LEVEL = "paragraph"
CHANCE_BELOW = 0.3  # exact Jaccard under which a pair sharing a key is chance
RANDOM_PAIRS = 20_000
RANDOM_SEED = 12345
QUANTILES = {"median": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999, "max": 1.0}
SPACES = ("paragraph bands", "sentence bands", "either")

Paragraph = tuple[str, str]  # (document id, paragraph text)


@dataclass
class Measured:
    """One corpus's counts: per key space, the chance pairs and how many pass the sketch test."""

    corpus: str
    documents: int
    paragraphs: int
    pairs: int  # pairs of paragraphs from different documents
    related: dict[str, int]  # pairs sharing a key with Jaccard >= CHANCE_BELOW
    chance: dict[str, int]
    passing: dict[str, int]
    random_jaccard: np.ndarray

    def rate(self, space: str) -> float:
        return self.chance[space] / self.pairs

    def past_sketch(self, space: str) -> float:
        return self.passing[space] / self.chance[space] if self.chance[space] else 0.0


def bbc_paragraphs(archive: Path, settings: Settings) -> list[Paragraph]:
    """Return the paragraphs dedup sees of every BBC article, in article order (read in memory)."""
    documents = []
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and re.fullmatch(r"bbc_fulltext/bbc/[a-z]+/[0-9]+\.txt", m.name)]
        for member in sorted(members, key=lambda m: m.name):
            raw = tar.extractfile(member).read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
            source = Source(member.name, "txt", "0" * 64, len(raw))
            documents.append(normalise(Document(id=member.name.split("bbc/", 1)[1], source=source, text=text)))
    return paragraphs_of(documents, settings)


def paragraphs_of(documents: list[Document], settings: Settings) -> list[Paragraph]:
    """Return the items each document brings to dedup's paragraph level, in order."""
    return [(doc.id, text) for doc in documents for _, _, text in dedup._items(doc, LEVEL, settings)]


def synthetic_corpus(work: Path, docs: int, seed: int, data: Path) -> Path:
    """Return bench/corpus.py's corpus of `docs` JSONL documents in `work`, made unless already there."""
    corpus = work / f"corpus-{docs}-seed{seed}"
    if not (corpus / "corpus.json").is_file():
        clock = time.perf_counter()
        command = [sys.executable, str(HERE / "corpus.py"), str(corpus), "--docs", str(docs), "--format", "jsonl",
                   "--seed", str(seed), "--data", str(data)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"synthetic corpus of {docs:,} documents in {time.perf_counter() - clock:.0f} s: {corpus}", file=sys.stderr)
    return corpus


def synthetic_paragraphs(corpus: Path, settings: Settings, wanted: int) -> list[Paragraph]:
    """Return the first `wanted` paragraphs of the corpus's original documents, in corpus order."""
    with open(corpus / "labels.jsonl", encoding="utf-8") as labels:
        original = {label["id"] for label in map(json.loads, labels) if label["kind"] == "original"}
    found: list[Paragraph] = []
    for shard in sorted((corpus / "docs").glob("*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["id"] not in original:
                continue
            source = Source(shard.name, "jsonl", "0" * 64, len(line))
            found += paragraphs_of([normalise(Document(id=record["id"], source=source, text=record["text"]))], settings)
            if len(found) >= wanted:
                return found[:wanted]
    raise SystemExit(f"the original documents of {corpus} hold {len(found):,} paragraphs, fewer than the BBC's "
                     f"{wanted:,}: raise --docs")


def pairs_sharing(keys: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Find each pair of rows i < j that holds a common key; return them once, as i * n + j (ascending).

    >>> pairs_sharing(np.array([7, 7, 9, 7, 9], dtype=np.uint64), np.array([0, 2, 0, 3, 3]), 4).tolist()
    [2, 3, 11]
    """
    held = np.unique(np.stack([keys, rows.astype(np.uint64)], axis=1), axis=0)  # by key, then row
    keys, rows = held[:, 0], held[:, 1].astype(np.int64)
    found = [np.empty(0, dtype=np.int64)]
    for gap in range(1, len(keys)):  # rows `gap` apart under one key, until no key holds more
        same = keys[gap:] == keys[:-gap]
        if not same.any():
            break
        found.append(rows[:-gap][same] * n + rows[gap:][same])
    return np.unique(np.concatenate(found))


def key_pairs(batch: FeatureBatch) -> dict[str, np.ndarray]:
    """Return, per key space, the pairs of the batch's rows that share a band key (`pairs_sharing`)."""
    n = len(batch.digests)
    bands = batch.keys.shape[1]
    sentence_rows = np.repeat(np.arange(n), np.diff(batch.sentence_starts))
    found = {
        "paragraph bands": pairs_sharing(batch.keys.ravel(), np.repeat(np.arange(n), bands), n),
        "sentence bands": pairs_sharing(batch.sentence_keys.ravel(), np.repeat(sentence_rows, batch.sentence_keys.shape[1]), n),
    }
    found["either"] = np.union1d(found["paragraph bands"], found["sentence bands"])
    return found


def exact_jaccard(hashes: list[np.ndarray], first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Return the Jaccard of the shingle sets of each pair of rows (hashes are sorted and distinct)."""
    return np.array([jaccard(hashes[a], hashes[b]) for a, b in zip(first.tolist(), second.tolist())], dtype=float)


def measure(corpus: str, paragraphs: list[Paragraph], index: NearDuplicateIndex) -> Measured:
    """Count the chance pairs of these paragraphs per key space, and sample random pairs' Jaccard."""
    clock = time.perf_counter()
    n = len(paragraphs)
    batch = index.feature_batch([text for _, text in paragraphs])
    starts = batch.hash_starts.tolist()
    hashes = [batch.hashes[starts[row] : starts[row + 1]] for row in range(n)]
    documents = np.unique(np.array([doc for doc, _ in paragraphs]), return_inverse=True)[1]
    per_document = np.bincount(documents)
    pairs = n * (n - 1) // 2 - int((per_document * (per_document - 1) // 2).sum())
    sketch_test = index.sketch_test(batch)
    related, chance, passing = {}, {}, {}
    for space, codes in key_pairs(batch).items():
        first, second = codes // n, codes % n
        apart = documents[first] != documents[second]
        first, second = first[apart], second[apart]
        unrelated = exact_jaccard(hashes, first, second) < CHANCE_BELOW
        first, second = first[unrelated], second[unrelated]
        related[space] = int((~unrelated).sum())
        chance[space] = int(first.size)
        passing[space] = int(sketch_test(second, sketch_of(batch.signatures[first]), batch.sizes[first]).sum()) if first.size else 0
    random = np.random.default_rng(RANDOM_SEED)
    first, second = random.integers(0, n, size=2 * RANDOM_PAIRS), random.integers(0, n, size=2 * RANDOM_PAIRS)
    apart = documents[first] != documents[second]
    random_jaccard = exact_jaccard(hashes, first[apart][:RANDOM_PAIRS], second[apart][:RANDOM_PAIRS])
    print(f"{corpus}: {n:,} paragraphs measured in {time.perf_counter() - clock:.0f} s", file=sys.stderr, flush=True)
    return Measured(corpus, len(per_document), n, pairs, related, chance, passing, random_jaccard)


def ratio(real: float, synthetic: float) -> str:
    return f"{real / synthetic:.2f}x" if synthetic else "-"


def print_tables(bbc: Measured, synthetic: Measured, stored: int) -> None:
    """Print the corpora, their chance candidates per key space and random pairs' Jaccard."""
    print(f"| corpus | documents | paragraphs | cross-document pairs | related pairs sharing a key (Jaccard >= {CHANCE_BELOW}) |")
    print("|---|---|---|---|---|")
    for found in (bbc, synthetic):
        print(f"| {found.corpus} | {found.documents:,} | {found.paragraphs:,} | {found.pairs:,} | {found.related['either']:,} |")
    print()
    print(f"| keys | corpus | chance pairs | per pair | past sketch test | per new paragraph at {stored:,} stored | past sketch test |")
    print("|---|---|---|---|---|---|---|")
    for space in SPACES:
        for found in (bbc, synthetic):
            rate, share = found.rate(space), found.past_sketch(space)
            print(f"| {space} | {found.corpus} | {found.chance[space]:,} | {rate:.3g} | {share:.1%} | {rate * stored:,.0f} | "
                  f"{rate * share * stored:,.1f} |")
        rates, shares = (bbc.rate(space), synthetic.rate(space)), (bbc.past_sketch(space), synthetic.past_sketch(space))
        print(f"| {space} | BBC / synthetic | | {ratio(*rates)} | {ratio(*shares)} | {ratio(*rates)} | "
              f"{ratio(rates[0] * shares[0], rates[1] * shares[1])} |")
    print()
    print(f"Exact Jaccard (shingle sets) of {RANDOM_PAIRS:,} random pairs of paragraphs from different documents:")
    print()
    print("| corpus | " + " | ".join(QUANTILES) + " | share >= 0.1 |")
    print("|---|" + "---|" * (len(QUANTILES) + 1))
    values = {}
    for found in (bbc, synthetic):
        quantiles = [float(np.quantile(found.random_jaccard, level)) for level in QUANTILES.values()]
        share = float((found.random_jaccard >= 0.1).mean())
        values[found.corpus] = [*quantiles, share]
        print(f"| {found.corpus} | " + " | ".join(f"{value:.4f}" for value in quantiles) + f" | {share:.3%} |")
    print("| BBC / synthetic | " + " | ".join(ratio(*pair) for pair in zip(values[bbc.corpus], values[synthetic.corpus])) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"folder holding {BBC_ARCHIVE}")
    parser.add_argument("--work", type=Path, help="folder for the synthetic corpus, kept for another run (default: a temporary one)")
    parser.add_argument("--docs", type=int, default=2000, help="documents of the synthetic corpus (enough originals to match the BBC)")
    parser.add_argument("--seed", type=int, default=0, help="the synthetic corpus's seed")
    parser.add_argument("--stored", type=int, default=13_000_000, help="stored paragraphs the per-new-paragraph column is taken at")
    args = parser.parse_args(argv)
    problems = missing(args.data, BBC_ARCHIVE)
    if problems:
        raise SystemExit("\n".join(problems))
    clock = time.perf_counter()
    settings = Settings()
    index = level_index(settings, LEVEL)
    bbc = bbc_paragraphs(args.data / BBC_ARCHIVE, settings)
    with nullcontext(args.work) if args.work else tempfile.TemporaryDirectory(prefix="chance-candidates-") as work:
        Path(work).mkdir(parents=True, exist_ok=True)
        synthetic = synthetic_paragraphs(synthetic_corpus(Path(work), args.docs, args.seed, args.data), settings, len(bbc))
    sentences = index.sentence_lsh
    print(f"Paragraph level as dedup runs it: {settings.paragraph_shingling} shingles, {settings.num_perm} permutations, "
          f"paragraphs of {settings.min_paragraph_words}+ words; paragraph bands {index.lsh.bands} x {index.lsh.rows} rows "
          f"({index.lsh.rounds} rounds), sentence bands {sentences.bands} x {sentences.rows} rows; a pair sharing a key is "
          f"chance when its exact Jaccard is below {CHANCE_BELOW}.")
    print()
    print_tables(measure("BBC", bbc, index), measure("synthetic", synthetic, index), args.stored)
    print(f"\ntotal time {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
