"""Persistent index at 1M documents: a 1k-document batch deduplicated against it, cold and warm.

A real index of N documents is what deduplicating them leaves, and deduplicating 1M documents
takes ~2 h on this 2-core machine with ~40 GB of temporary files beside a ~28 GB index (47 GB
in format 9): more disk than the machine had. What a batch's time depends on is what the index holds and how it is
laid out, so this writes the index through the index's own writer (a new index's, as `cleaner
index build` writes it: copies in chunks, band pairs in runs of MAX_RUN split into key ranges
by the save) with the copies dedup would keep, as bench/corpus.py's labels say: not the planted
exact and near duplicate documents, not a paragraph whose text was stored before, and a reused
background paragraph (verbatim or lightly edited) only where it first appears. Other near
duplicates a real run would find (chance ones, edits of edits) are stored, so the index holds a
little more than a real one. `--every-item` stores every document and paragraph instead: the
index then holds each background paragraph ~50 times (an upper bound far above a real index,
since those copies are what a batch's reused sentences name as candidates).

The last `--batch` documents are then deduplicated against it read only, as `cleaner check
--index` would: first with the page cache dropped (when this user may: root), then warm. "Warm"
runs the same batch again, so the blocks its keys fall in are cached: more than a new batch
finds when the index is larger than the page cache. So `--fresh` batches follow, each of
documents never indexed nor run (the corpus's generator continued past its end, written beside
the corpus), timed once on the machine warm from the runs before: a new day's batch.

Needs bench/corpus.py's corpus (generated here; ~4.5 GB at 1M) and ~35 GB of disk at 1M.

Run:
  python bench/index_scale.py --work DIR --docs 1000000 [--batch 1000] [--repeat 3] [--every-item]
  python bench/index_scale.py --work DIR --docs 1000000 --reuse   # time the batch again only
  python bench/index_scale.py --work DIR --docs 1000000 --reuse --repeat 1 --fresh 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import CorpusGenerator, make_source  # noqa: E402
from index import batch_again, read_documents  # noqa: E402  (bench/index.py: its timed lookups too)

from cleaner import dedup  # noqa: E402
from cleaner.config import Settings  # noqa: E402
from cleaner.dedup import Item, Kept, level_index  # noqa: E402
from cleaner.document import Document, Source  # noqa: E402
from cleaner.index import LEVELS, Index  # noqa: E402
from cleaner.normalise import normalise  # noqa: E402

IN_FLIGHT = 4  # shards fingerprinted ahead of the writer (~45 MB of features each)


def shard_features(path: str) -> dict[str, Any]:
    """Each level's items of one JSONL shard, with what the index stores of them: normalised
    (as bench/index.py's documents are), fingerprinted, shingle hashes left out (their count
    is kept)."""
    settings = Settings()
    documents = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        source = Source(Path(path).name, "jsonl", "0" * 64, len(line))
        documents.append(normalise(Document(id=record["id"], source=source, text=record["text"])))
    documents.sort(key=lambda doc: doc.id)
    found: dict = {"ids": [doc.id for doc in documents]}
    for level in LEVELS:
        items = [(doc.id, number, text) for doc in documents for number, _, text in dedup._items(doc, level, settings)]
        batch = level_index(settings, level).feature_batch([text for *_, text in items])
        found[level] = (items, batch.digests, batch.signatures, batch.keys, batch.sentence_keys, batch.sentence_starts, batch.sizes)
    return found


class Keeping:
    """Which items a real run would keep, as the corpus's labels say (module docstring)."""

    def __init__(self, labels: Path, every_item: bool) -> None:
        self.labels = labels.open(encoding="utf-8")
        self.every_item = every_item
        self.digests: dict[str, set[bytes]] = {level: set() for level in LEVELS}
        self.background: set[int] = set()

    def shard(self, documents: int) -> dict[str, dict]:
        """The labels of the next `documents` documents, by id (labels.jsonl is in corpus order)."""
        return {label["id"]: label for label in (json.loads(next(self.labels)) for _ in range(documents))}

    def keeps(self, level: str, label: dict, paragraph: int | None, digest: str) -> bool:
        if self.every_item:
            return True
        if label["kind"] != "original":
            return False
        reused = {entry["paragraph"]: entry["background"] for entry in label["background"]}
        if paragraph in reused:
            if reused[paragraph] in self.background:
                return False
            self.background.add(reused[paragraph])
        seen = self.digests[level]
        held = bytes.fromhex(digest[:32])
        if held in seen:
            return False
        seen.add(held)
        return True


def build(path: Path, shards: list[Path], workers: int, keeping: Keeping) -> tuple[float, dict[str, int]]:
    """Store the kept items of these shards in a new index at `path`; return seconds and counts."""
    settings = Settings()
    clock = time.perf_counter()
    with Index.open(path, settings, create=True) as index, ProcessPoolExecutor(workers) as pool:
        waiting: deque = deque()
        written = 0
        for shard in [*shards, None]:
            if shard is not None:
                waiting.append(pool.submit(shard_features, str(shard)))
            while waiting and (len(waiting) >= IN_FLIGHT or shard is None):
                store(index, waiting.popleft().result(), keeping)
                written += 1
                if written % 50 == 0:
                    print(f"  {written:,} of {len(shards):,} shards written, {time.perf_counter() - clock:.0f} s", file=sys.stderr, flush=True)
        index.save()
        return time.perf_counter() - clock, index.counts()


def store(index: Index, found: dict[str, Any], keeping: Keeping) -> None:
    labels = keeping.shard(len(found["ids"]))
    for level in LEVELS:
        items, digests, signatures, keys, sentence_keys, sentence_starts, sizes = found[level]
        stored = index.levels[level]
        starts = sentence_starts.tolist()
        for row, (doc, paragraph, text) in enumerate(items):
            if not keeping.keeps(level, labels[doc], paragraph, digests[row]):
                continue
            sentences = sentence_keys[starts[row] : starts[row + 1]] if starts[row + 1] > starts[row] else None
            # the writer asks a copy's shingle count only: a zero-stride array of that size
            hashes = np.broadcast_to(np.uint32(0), (int(sizes[row]),))
            stored.add(Kept(Item(doc, paragraph, text), hashes), digests[row], signatures[row], keys[row], sentences)


def drop_page_cache() -> bool:
    """Write dirty pages out and drop the page cache (root only): the batch then reads cold."""
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:
        return False
    return True


def fresh_batch(corpus: Path, number: int, size: int) -> list[Document]:
    """Batch `number` (from 0) of `size` documents the corpus's generator gives past its end:
    never indexed nor run before. Written once beside the corpus (CORPUS-fresh/), then read
    from there as the batch's documents are."""
    spec = json.loads((corpus / "corpus.json").read_text(encoding="utf-8"))
    start = spec["documents"] + number * size
    path = corpus.parent / f"{corpus.name}-fresh" / f"part-{start // size:05d}-{size}.jsonl"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        generator = CorpusGenerator(make_source(synthetic=spec["source"] == "synthetic"), spec["documents"], spec["seed"])
        written = path.with_suffix(".partial")
        with written.open("w", encoding="utf-8") as out:
            for index in range(start, start + size):
                document = generator.document(index)
                out.write(json.dumps({"id": document.id, "text": document.text}, ensure_ascii=False) + "\n")
        written.replace(path)
    return read_documents(path.parent, [path])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents stored in the index")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--work", type=Path, required=True, help="folder for the corpus and index (~35 GB at 1M)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="warm batches after the cold one")
    parser.add_argument("--fresh", type=int, default=2, help="batches of documents never seen, timed once each after the warm ones")
    parser.add_argument("--reuse", action="store_true", help="time the batch against the index already in --work")
    parser.add_argument("--every-item", action="store_true", help="store every document and paragraph, none left out as a duplicate")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    total = args.docs + args.batch
    corpus = args.work / f"corpus-{total}"
    if not corpus.exists():
        clock = time.perf_counter()
        subprocess.run(
            [sys.executable, str(HERE / "corpus.py"), str(corpus), "--docs", str(total), "--format", "jsonl", "--jobs", str(args.workers)],
            check=True,
        )
        print(f"corpus of {total:,} documents in {time.perf_counter() - clock:.0f} s", file=sys.stderr)
    shards = sorted((corpus / "docs").glob("*.jsonl"))
    per_shard = sum(1 for _ in shards[0].open(encoding="utf-8"))
    if args.docs % per_shard or args.batch % per_shard:
        raise SystemExit(f"--docs and --batch must be whole shards of {per_shard} documents")
    indexed, batch_shards = shards[: args.docs // per_shard], shards[args.docs // per_shard :]
    path = args.work / f"index-{args.docs}{'-every-item' if args.every_item else ''}.sqlite"
    if not args.reuse:
        path.unlink(missing_ok=True)
        seconds, counts = build(path, indexed, args.workers, Keeping(corpus / "labels.jsonl", args.every_item))
        size = path.stat().st_size
        print(
            f"built: {args.docs:,} documents, {counts['paragraph']:,} paragraphs in {seconds:.0f} s "
            f"({args.docs / seconds:.0f} documents/s); {size / 1e9:.1f} GB, {size / args.docs / 1e3:.1f} KB a document"
        )
    batch = read_documents(corpus / "docs", batch_shards)
    settings = Settings()
    cold = drop_page_cache()
    print("cold (page cache dropped):" if cold else "page cache not dropped (not root): the first attempt may be warm")
    batch_again(path, batch, settings, 1)
    print("warm:")
    batch_again(path, batch, settings, args.repeat)
    if args.fresh:
        print("fresh (documents never indexed nor run, on the machine warm from the runs before):")
        for number in range(args.fresh):
            batch_again(path, fresh_batch(corpus, number, args.batch), settings, 1, header=number == 0, label=f"fresh {number + 1}")


if __name__ == "__main__":
    main()
