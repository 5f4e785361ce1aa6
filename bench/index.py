"""Persistent index: build rate, size on disk, and a 1k-document batch deduplicated against it.

Generates one corpus with bench/corpus.py (N + batch documents of recombined BBC text, or its
synthetic vocabulary with --synthetic; planted duplicates pointing at earlier documents), grows
an index over the first N in batches of `--step` documents (one transaction each, as daily
`cleaner run --index PATH --update-index` runs would), and at each
size in `--sizes` times deduplicating the last `--batch` documents against it (read only). The
batch alone, without an index, is timed too: the difference is what the index costs.

Documents go through normalise only (no rules, no langid), so the figures are dedup + index.

Run:
  python bench/index.py --sizes 1000 3000 10000 [--batch 1000] [--step 1000] [--work DIR] [--index redis://HOST:PORT/DB] [--synthetic]

`--index` builds the index there instead of WORK/index.sqlite: a redis:// URL must name an empty
database (its size is then the memory Redis reports for the index's keys).

`--reuse` builds nothing: it times the batch (`--repeat` times) against the index an earlier run
with the same `--work` and sizes left there (a 100k index takes ~30 minutes to build), e.g. to
compare two checkouts on one index: `PYTHONPATH=WORKTREE python bench/index.py ... --reuse`.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cleaner.config import Settings
from cleaner.dedup import deduplicate
from cleaner.document import Document, Source
from cleaner.index import Index, StoredLevel, is_redis_url
from cleaner.normalise import normalise

HERE = Path(__file__).resolve().parent


def read_documents(folder: Path, files: list[Path] | None = None) -> list[Document]:
    """The documents of a corpus's JSONL files (or of these of them), normalised, by id."""
    documents = []
    for path in files if files is not None else sorted(folder.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            source = Source(path.name, "jsonl", "0" * 64, len(line))
            documents.append(normalise(Document(id=record["id"], source=source, text=record["text"])))
    return sorted(documents, key=lambda doc: doc.id)


LOOKUP_SECONDS = [0.0]
_INSIDE = [0]  # timed methods running: one called by another (sketches by lookahead) is not counted twice


def timed(method):
    """Wrap a StoredLevel method to add its time to LOOKUP_SECONDS (what the index costs a query)."""

    def wrapper(*args, **kwargs):
        if _INSIDE[0]:
            return method(*args, **kwargs)
        _INSIDE[0] += 1
        clock = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            LOOKUP_SECONDS[0] += time.perf_counter() - clock
            _INSIDE[0] -= 1

    return wrapper


for _name in ("exact", "lookahead", "candidates", "sketches", "copy"):
    setattr(StoredLevel, _name, timed(getattr(StoredLevel, _name)))
try:
    from cleaner.redis_index import RedisLevel

    for _name in ("exact", "candidates", "sketches", "copy"):
        setattr(RedisLevel, _name, timed(getattr(RedisLevel, _name)))
except ImportError:
    pass


def outcome(documents: list[Document]) -> tuple[int, int]:
    dropped = sum(doc.status == "dropped" for doc in documents)
    removed = sum(1 for doc in documents for removal in doc.removed if removal.rule == "DD002")
    return dropped, removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--work", type=Path, help="folder for the corpus and index (default: a temporary one)")
    parser.add_argument("--index", help="build the index here instead: an SQLite file, or a redis:// URL of an empty database")
    parser.add_argument("--reuse", action="store_true", help="time the batch against the index already in --work; build nothing")
    parser.add_argument("--repeat", type=int, default=1, help="with --reuse: time the batch this many times")
    parser.add_argument(
        "--synthetic", action="store_true",
        help="bench/corpus.py's synthetic vocabulary instead of recombined BBC text (far more chance candidates than news)",
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-index-"))
    total = max(args.sizes) + args.batch
    corpus = work / f"corpus-{total}{'-synthetic' if args.synthetic else ''}"
    if not corpus.exists():
        subprocess.run(
            [sys.executable, str(HERE / "corpus.py"), str(corpus), "--docs", str(total), "--format", "jsonl"]
            + (["--synthetic"] if args.synthetic else []),
            check=True,
            capture_output=True,
        )
    clock = time.perf_counter()
    documents = read_documents(corpus / "docs")
    print(f"read and normalised {len(documents):,} documents in {time.perf_counter() - clock:.1f} s", file=sys.stderr)
    batch = documents[-args.batch :]
    settings = Settings()

    clock = time.perf_counter()
    alone = copy.deepcopy(batch)
    deduplicate(alone, settings)
    alone_seconds = time.perf_counter() - clock

    path = args.index or work / "index.sqlite"
    if args.reuse:
        batch_again(path, batch, settings, args.repeat)
        return
    if not is_redis_url(path):
        Path(path).unlink(missing_ok=True)
    rows = []
    built, build_seconds, write_seconds = 0, 0.0, 0.0
    for size in sorted(args.sizes):
        while built < size:
            part = copy.deepcopy(documents[built : min(size, built + args.step)])
            clock = time.perf_counter()
            with Index.open(path, settings, create=True) as index:
                deduplicate(part, settings, stored=index.levels)
                saving = time.perf_counter()
                index.save()
                write_seconds += time.perf_counter() - saving
            build_seconds += time.perf_counter() - clock
            built += len(part)
        with Index.open(path, settings, readonly=True) as index:  # as `cleaner check --index` opens it
            counts = index.counts()
            queried = copy.deepcopy(batch)
            clock, LOOKUP_SECONDS[0] = time.perf_counter(), 0.0
            deduplicate(queried, settings, stored=index.levels)
            query_seconds, lookup_seconds = time.perf_counter() - clock, LOOKUP_SECONDS[0]
            size_bytes = index.stats().bytes if is_redis_url(path) else sum(p.stat().st_size for p in Path(path).parent.glob(Path(path).name + "*"))
        rows.append((size, counts, build_seconds, write_seconds, size_bytes, query_seconds, lookup_seconds, outcome(queried), outcome(alone)))
        print(f"  {size:,} indexed", file=sys.stderr)

    print(f"batch of {args.batch:,} documents alone (no index): {alone_seconds:.1f} s, {outcome(alone)[0]} dropped, {outcome(alone)[1]} paragraphs removed")
    header = (
        "indexed docs",
        "paragraphs",
        "build s",
        "of which write s",
        "build docs/s",
        "index MB",
        "KB/doc",
        f"batch of {args.batch:,} s",
        "of which index lookups s",
        "dropped",
        "¶ removed",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size, counts, seconds, writing, size_bytes, query, lookups, (dropped, removed), _ in rows:
        cells = (
            f"{size:,}",
            f"{counts['paragraph']:,}",
            f"{seconds:.1f}",
            f"{writing:.1f}",
            f"{size / seconds:.0f}",
            f"{size_bytes / 1e6:.0f}",
            f"{size_bytes / size / 1e3:.1f}",
            f"{query:.1f}",
            f"{lookups:.1f}",
            f"{dropped}",
            f"{removed}",
        )
        print("| " + " | ".join(cells) + " |")


def batch_again(path: Path | str, batch: list[Document], settings: Settings, repeat: int, header: bool = True, label: str = "") -> None:
    """Time the batch against an index built before (read only), `repeat` times."""
    if header:
        print("| documents stored | attempt | batch s | of which index lookups s | dropped | ¶ removed |")
        print("|---|---|---|---|---|---|")
    for attempt in range(1, repeat + 1):
        with Index.open(path, settings, readonly=True) as index:
            queried = copy.deepcopy(batch)
            clock, LOOKUP_SECONDS[0] = time.perf_counter(), 0.0
            deduplicate(queried, settings, stored=index.levels)
            seconds = time.perf_counter() - clock
            dropped, removed = outcome(queried)
            print(f"| {index.counts()['document']:,} | {label or attempt} | {seconds:.1f} | {LOOKUP_SECONDS[0]:.1f} | {dropped} | {removed} |", flush=True)


if __name__ == "__main__":
    main()
