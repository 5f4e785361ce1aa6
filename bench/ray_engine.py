"""Wall time of `cleaner run` on the local engine and on the Ray engine, same corpus (issue 8).

Each way is run --repeats times, alternating (medians reported; each run is printed as it ends),
and the outputs are checked byte for byte:
- local: the process pool (`--engine local`, --workers W);
- ray (cold): what `cleaner run --engine ray` does alone: start a private cluster of W CPUs,
  run, stop it;
- ray (warm, with --warm): a cluster already running (as with `--address`), joined by each run.
Then a scaling estimate for N nodes from the per-stage times the manifest records.

  python bench/ray_engine.py --docs 1000 --workers 2 --repeats 3      # ~10 min on 2 cores
  python bench/ray_engine.py --corpus DIR --warm   # any folder `cleaner run` reads

Corpora come from bench/corpus.py, cached under --work (default $TMPDIR/cleaner-bench).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ensure_corpus  # noqa: E402  (bench/run.py: the cached corpus generator)

from cleaner.config import Settings  # noqa: E402
from cleaner.pipeline import clean_corpus  # noqa: E402

PER_FILE_STAGES = ("ingest", "normalise", "rules", "langid")


def timed_run(inputs: Path, out: Path, settings: Settings, engine=None) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    clock = time.perf_counter()
    result = clean_corpus([inputs], out, settings, engine=engine)
    return time.perf_counter() - clock, result.manifest


def same_output(a: Path, b: Path) -> bool:
    return all((a / name).read_bytes() == (b / name).read_bytes() for name in ("docs.jsonl", "clusters.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, help="a folder to clean instead of a generated corpus")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cleaner-bench")
    parser.add_argument("--warm", action="store_true", help="also time runs that join an already running cluster")
    args = parser.parse_args()

    import ray

    from cleaner.ray_engine import RayEngine

    corpus = args.corpus or ensure_corpus(args.work, args.docs, args.seed, jobs=args.workers) / "docs"
    outs = Path(tempfile.mkdtemp(prefix="ray-bench-", dir=args.work))
    settings = Settings(workers=args.workers)
    walls: dict[str, list[float]] = {"local": [], "ray (cold)": [], "ray (warm)": []}
    manifests: dict[str, dict] = {}
    identical = True

    def measure(name: str, settings: Settings, engine=None) -> None:
        nonlocal identical
        folder = outs / name.split()[-1].strip("()")  # local, cold, warm
        wall, manifests[name] = timed_run(corpus, folder, settings, engine)
        walls[name].append(wall)
        if name != "local":
            identical &= same_output(outs / "local", folder)
        print(f"bench: {name}: {wall:.2f} s, stages {manifests[name]['timings']}", file=sys.stderr, flush=True)

    for _ in range(args.repeats):
        measure("local", settings)
        measure("ray (cold)", settings.updated(engine="ray"))
    if args.warm:
        temp_dir = tempfile.mkdtemp(prefix="cleaner-ray-")
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="error", _temp_dir=temp_dir)
        try:
            for _ in range(args.repeats):
                measure("ray (warm)", settings, RayEngine())
        finally:
            ray.shutdown()
            shutil.rmtree(temp_dir, ignore_errors=True)
    manifest = manifests["local"]

    documents = manifest["inputs"]["documents"]
    local = statistics.median(walls["local"])
    print(f"cleaner run on {documents:,} documents ({manifest['inputs']['bytes'] / 1e6:.1f} MB), {args.workers} CPUs, "
          f"median of {args.repeats}; outputs byte-identical to local: {identical}")
    print(f"{'engine':<12} {'median s':>9} {'docs/s':>8} {'x local':>8}   runs")
    for name, runs in walls.items():
        if not runs:
            continue
        median = statistics.median(runs)
        print(f"{name:<12} {median:9.2f} {documents / median:8.0f} {median / local:8.2f}   {', '.join(f'{r:.2f}' for r in runs)}")

    timings = manifest["timings"]
    file_cpu = sum(timings.get(stage, 0.0) for stage in PER_FILE_STAGES)
    driver = timings.get("dedup", 0.0) + timings.get("write", 0.0)
    print(f"\nper-file stages: {file_cpu:.1f} CPU s ({documents / file_cpu:.0f} docs/s per CPU); "
          f"driver (dedup + write): {driver:.1f} s")
    print("estimate for N nodes of C CPUs: per-file CPU s / (N*C) + driver s + cluster overhead; per 1M documents:")
    scale = 1_000_000 / documents
    for nodes in (1, 4, 16):
        for cpus in (16,):
            print(f"  {nodes:>2} x {cpus} CPUs: {file_cpu * scale / (nodes * cpus) / 60:6.1f} min stages + {driver * scale / 60:.1f} min on the driver")
    print(json.dumps({"documents": documents, "workers": args.workers, "walls": walls, "identical": identical, "timings": timings}))
    shutil.rmtree(outs, ignore_errors=True)


if __name__ == "__main__":
    main()
