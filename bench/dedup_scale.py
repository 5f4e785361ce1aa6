"""Dedup alone at growing corpus sizes: wall time, peak RSS and candidates, against a baseline
revision in the same run (issue 6).

The per-document stages (ingest, normalise, rules, langid) run once over the largest size and
their output is pickled under --work; each (revision, size) then deduplicates the first N
documents in a fresh subprocess, so peak RSS is that of one dedup. A baseline revision (any git
revision of this repository, checked out into a worktree under --work) runs the same pickles.

  python bench/dedup_scale.py --docs 2500,5000,10000 --baseline c091d3f   # ~10 min on 2 cores
  python bench/dedup_scale.py --docs 10000,20000,40000                   # this checkout only
  python bench/dedup_scale.py --docs 10000 --workers 1                   # no feature pool
  python bench/dedup_scale.py --docs 40000 --baseline HEAD --verify-in-pool  # Ray's way, on local processes
  python bench/dedup_scale.py --docs 40000 --baseline HEAD --split-components  # components decided in tasks

Corpora come from bench/corpus.py (cached under --work, default $TMPDIR/cleaner-bench); without
../shared/data/bbc_fulltext.tar.gz it uses its synthetic vocabulary and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

# One dedup in a subprocess: print its wall time, peak RSS and result sizes as one JSON line.
_CHILD = r"""
import json, pickle, resource, sys, time
from cleaner.config import Settings
from cleaner.dedup import deduplicate
docs = pickle.load(open(sys.argv[1], "rb"))[: int(sys.argv[2])]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clock = time.perf_counter()
way = sys.argv[4]  # "verify-in-pool": the Ray engine's way, on the local pool; "split-components"
extra = {"verify_in_pool": True} if way == "verify-in-pool" else {}
settings = Settings(workers=int(sys.argv[3]), **({"split_components": True} if way == "split-components" else {}))
clusters = deduplicate(docs, settings, **extra)
seconds = time.perf_counter() - clock
print(json.dumps({
    "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "pool_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "rss_before_mb": before / 1024,
    "clusters": len(clusters),
    "dropped": sum(doc.status == "dropped" for doc in docs),
    "paragraphs_removed": sum(r.rule == "DD002" for doc in docs for r in doc.removed),
}))
"""


def prepared_documents(work: Path, size: int, seed: int) -> Path:
    """Pickle of the per-document stages' output for the first `size` documents (cached)."""
    from run import ensure_corpus

    from cleaner.config import Settings
    from cleaner.pipeline import read_corpus

    corpus = ensure_corpus(work, size, seed, jobs=2)
    target = work / f"{corpus.name}.documents.pickle"
    if not target.is_file():
        print(f"bench: per-document stages over {corpus} ...", file=sys.stderr, flush=True)
        documents = list(read_corpus([corpus / "docs"], Settings()).documents)  # out of the run's temporary file
        partial = target.with_suffix(".partial")
        with partial.open("wb") as handle:
            pickle.dump(documents, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.rename(target)
    return target


def checkout(work: Path, revision: str) -> Path:
    """A worktree of this repository at `revision` (made once)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", revision], capture_output=True, text=True, check=True).stdout.strip()
    folder = work / f"worktree-{commit[:12]}"
    if not folder.is_dir():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), commit], capture_output=True, check=True)
    return folder


def dedup_once(code: Path, pickle_path: Path, size: int, workers: int, way: str = "") -> dict:
    environment = {**os.environ, "PYTHONPATH": str(code)}
    # run in the code's own folder: `python -c` puts the working folder first on sys.path
    process = subprocess.run(
        [sys.executable, "-c", _CHILD, str(pickle_path), str(size), str(workers), way], capture_output=True, text=True, env=environment, cwd=code
    )
    if process.returncode != 0:
        return {"error": (process.stderr.strip().splitlines() or [f"exit {process.returncode}"])[-1]}
    return json.loads(process.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", default="2500,5000,10000", help="comma-separated corpus sizes")
    parser.add_argument("--baseline", help="a git revision to run beside this checkout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="Settings.workers for dedup (0: all cores)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cleaner-bench")
    ways = parser.add_mutually_exclusive_group()
    ways.add_argument(
        "--verify-in-pool", action="store_const", dest="way", const="verify-in-pool", default="",
        help="this checkout verifies candidate pairs in the feature pool's tasks, as the Ray engine does (the baseline runs as it is)",
    )
    ways.add_argument(
        "--split-components", action="store_const", dest="way", const="split-components",
        help="this checkout decides components in the feature pool's tasks (Settings.split_components; the baseline runs as it is)",
    )
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.docs.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    pickle_path = prepared_documents(args.work, sizes[-1], args.seed)
    named = {"": "this checkout", "verify-in-pool": "this checkout, verifying in the pool", "split-components": "this checkout, components in the pool"}
    ways = [(named[args.way], REPO)]
    if args.baseline:
        ways.insert(0, (f"baseline {args.baseline}", checkout(args.work, args.baseline)))
    print("| documents | code | dedup s | peak RSS MB (feature pool) | clusters | dropped | ¶ removed | x baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        baseline = None
        for name, code in ways:
            found = dedup_once(code, pickle_path, size, args.workers, args.way if code == REPO else "")
            if "error" in found:
                print(f"| {size:,} | {name} | error: {found['error']} | | | | | |", flush=True)
                continue
            ratio = f"{baseline / found['seconds']:.1f}x" if baseline else ""
            baseline = baseline or (found["seconds"] if args.baseline else None)
            print(
                f"| {size:,} | {name} | {found['seconds']:.1f} | {found['rss_mb']:,.0f}{_pool(found)} | {found['clusters']:,} | "
                f"{found['dropped']:,} | {found['paragraphs_removed']:,} | {ratio} |",
                flush=True,
            )
    return 0


def _pool(found: dict) -> str:
    """The feature pool's peak, where dedup started one."""
    pool = found.get("pool_rss_mb", 0)
    return f" ({pool:,.0f})" if pool > 50 else ""


if __name__ == "__main__":
    sys.exit(main())
