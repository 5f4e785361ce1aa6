"""Run the stages over a corpus: per-document stages on an engine, then the global ones.

    ingest -> normalise -> (rules -> langid -> fingerprint) -> (dedup) -> write

An engine (a local process pool, or Ray for clusters: `cleaner/ray_engine.py`) only schedules
`process_file` over the input files and hands the results back in file order; every change to a
document happens inside a stage function.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from . import __version__
from .config import ProjectConfig, Settings
from .dedup import Cluster, deduplicate, feature_pool
from .document import Document
from .ingest import Discovery, InputFile, discover, read_file, split_large
from .langid import detect_language
from .normalise import normalise
from .progress import ProgressCallback, reporting
from .resume import ResultCache, cache_folder
from .rules import RuleSet, apply_rules, load_ruleset
from .store import DocumentStore, statuses
from .errors import ConfigError, InputError
from .index import Index, is_redis_url, open_index
from .remote import RemoteOutput, is_url, redact
from .report import write_report
from .write import MANIFEST, check_output_dir, is_cleaner_output, write_output

DocumentStage = Callable[[Document], Document]


def document_stages(settings: Settings, ruleset: RuleSet) -> tuple[tuple[str, DocumentStage], ...]:
    """The per-document stages, in order; each a plain Document -> Document function."""
    keep_langs = frozenset(settings.lang) or None
    return (
        ("normalise", normalise),
        ("rules", partial(apply_rules, ruleset=ruleset)),
        ("langid", partial(detect_language, keep_langs=keep_langs, backend=settings.langid_backend)),
    )


FileResult = tuple[list[Document], dict[str, float]]


class Engine(Protocol):
    """Where the per-file stages run. Used as a context manager around one run."""

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def map_files(self, files: Sequence[InputFile], settings: Settings, ruleset: RuleSet) -> Iterator[FileResult]:
        """Yield `process_file` of each file, in file order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return the engine's name and size (`cpus`, `nodes`) for the manifest."""
        ...

    def feature_pool(self, settings: Settings) -> Executor | None:
        """Where dedup computes its features before matching (`dedup.chunk_features`)."""
        ...

    # Whether dedup verifies its candidate pairs in `feature_pool`'s tasks too (`dedup.verify_pairs`).
    verifies_pairs: bool


class LocalEngine:
    """This machine's process pool (`settings.processes` workers). Dedup matches item after
    item in this process: its workers would share the cores with that serial pass (at 40k
    documents on 2 cores, verifying in them took dedup from 83.5 to 107.3 s)."""

    verifies_pairs = False

    def __init__(self, settings: Settings) -> None:
        self.processes = settings.processes

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def map_files(self, files: Sequence[InputFile], settings: Settings, ruleset: RuleSet) -> Iterator[FileResult]:
        return process_files(files, settings, ruleset)

    def describe(self) -> dict[str, Any]:
        return {"name": "local", "cpus": self.processes, "nodes": 1}

    def feature_pool(self, settings: Settings) -> Executor | None:
        return feature_pool(settings)


def engine_for(settings: Settings) -> Engine:
    """Return the engine `settings.engine` names; Ray is imported only here, when asked for."""
    if settings.engine == "ray":
        from .cluster import parse_runtime_env
        from .ray_engine import RayEngine

        runtime_env = parse_runtime_env(settings.runtime_env) if settings.runtime_env else None
        return RayEngine(settings.address or None, num_cpus=settings.processes, runtime_env=runtime_env)
    return LocalEngine(settings)


@dataclass
class Corpus:
    """Every document after all stages, the clusters dedup found, and what the run measured."""

    inputs: list[Path | str]
    discovery: Discovery
    ruleset: RuleSet
    documents: Sequence[Document]  # a DocumentStore (on disk) for a run; any list in tests
    clusters: list[Cluster]
    timings: dict[str, float]
    engine: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reused_files: int = 0

    @property
    def errors(self) -> list[Document]:
        return [self.documents[number] for number, status in enumerate(statuses(self.documents)) if status == "error"]


@dataclass
class RunResult:
    """What a run did: the manifest it wrote, and the error records for the caller to report."""

    out: Path | str
    manifest: dict[str, Any]
    errors: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reused_files: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return self.manifest["counts"]


def clean_corpus(
    inputs: Sequence[Path | str],
    out: Path | str,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    resume: bool = False,
    engine: Engine | None = None,
    index: Path | str | None = None,
    update_index: bool = False,
    report: bool = False,
) -> RunResult:
    """Clean the documents under `inputs` and write the output contract to `out` (and, with
    `report`, OUT/report.html).

    `progress(stage, done, total)` is called as work finishes (see ProgressCallback). Each
    file's results are kept beside OUT until the output is written; `resume` reuses those an
    interrupted run left. The engine defaults to the one `settings.engine` names. With `index`,
    documents are deduplicated against the kept copies stored there too; with `update_index`,
    this run's kept copies are added to it (created if missing) before the output is written, so
    an OUT whose manifest says `updated` has an index that holds them. A run that fails after
    the save leaves them stored; running it again gives the same output, since the stored
    copies of the documents a run reads again are set aside (`Index.hide`).
    An `out` that is an fsspec URL is written locally, then published there (cleaner/remote.py).
    """
    settings = settings or Settings()
    started = time.perf_counter()
    remote = RemoteOutput(out) if is_url(out) else None
    if remote is not None:
        if resume:
            raise ConfigError(f"--resume needs a local OUT, not {redact(str(out))!r}: write to a local folder to resume a run")
        remote.check()
        cache = None
    else:
        out = Path(out)
        check_output_dir(out)
        cache = ResultCache(cache_folder(out), reuse=resume)
    with open_index(index, settings, create=update_index) as store:
        corpus = prepare_corpus(inputs, settings, exclude=[out], progress=progress, cache=cache, engine=engine, index=store)
        manifest = build_manifest(corpus, settings)
        if store is not None:
            manifest["index"] = {"path": str(store.path), "stored": store.counts(), "updated": update_index}
            if update_index:
                store.save()  # first: a manifest never claims an update that failed
        clusters = (cluster.to_record() for cluster in corpus.clusters)
        documents = reporting(corpus.documents, "write", progress)
        if remote is None:
            manifest = write_output(out, documents, clusters, manifest, started=started)
            if report:
                write_report(out)
        else:
            with remote.local_folder() as folder:
                manifest = write_output(folder, documents, clusters, manifest, started=started)
                if report:
                    write_report(folder)  # published with the rest
                remote.publish(folder)
    if cache is not None:
        cache.remove()
    return RunResult(out=out, manifest=manifest, errors=corpus.errors, warnings=corpus.warnings, reused_files=corpus.reused_files)


def default_inputs(project: ProjectConfig, last_run: Path = Path("out")) -> list[Path | str]:
    """The inputs to use when none are given: `[tool.cleaner] paths`, else the last run's inputs."""
    if project.paths:
        return project.paths
    if is_cleaner_output(last_run):
        manifest = json.loads((last_run / MANIFEST).read_text(encoding="utf-8"))
        return [path if is_url(path) else Path(path) for path in manifest["inputs"]["paths"]]
    raise InputError(
        "no input given: pass a path (cleaner dupes DIR), set paths in [tool.cleaner] of pyproject.toml "
        f"or cleaner.toml, or run `cleaner run IN {last_run}/` first"
    )


def prepare_corpus(
    inputs: Sequence[Path | str],
    settings: Settings,
    exclude: Sequence[Path | str] = (),
    progress: ProgressCallback | None = None,
    established: Callable[[Document], bool] | None = None,
    cache: ResultCache | None = None,
    engine: Engine | None = None,
    index: Index | None = None,
) -> Corpus:
    """Read and run every stage over the inputs, without writing anything.

    `established` is handed to dedup: those documents keep their copies first. The per-file
    stages run on `engine` (default: the one `settings.engine` names); dedup runs here. With a
    `cache`, each file's per-document results are stored as they come, and reused where it
    allows. The kept copies of `index` come before all documents (except its copies of
    documents read again).
    """
    running = engine or engine_for(settings)
    with running:  # open through dedup too: its features are computed on the engine
        corpus = read_corpus(inputs, settings, exclude, progress, cache, running)
        clock = time.perf_counter()
        if index is not None:
            index.hide(corpus.documents)
        stored = index.levels if index else None
        corpus.clusters = deduplicate(
            corpus.documents, settings, established, progress=progress, stored=stored, make_pool=running.feature_pool,
            verify_in_pool=running.verifies_pairs,
        )
        corpus.timings["dedup"] = round(time.perf_counter() - clock, 3)
    corpus.warnings.extend(_large_cluster_warnings(corpus, settings))
    return corpus


def read_corpus(
    inputs: Sequence[Path | str],
    settings: Settings,
    exclude: Sequence[Path | str] = (),
    progress: ProgressCallback | None = None,
    cache: ResultCache | None = None,
    engine: Engine | None = None,
) -> Corpus:
    """Read the inputs (local paths, or fsspec URLs as str) and run the per-document stages (everything but dedup)."""
    input_paths = [path if is_url(path) else Path(path) for path in inputs]
    ruleset = load_ruleset(settings.rules, settings.select, settings.ignore)
    discovery = discover(input_paths, exclude=exclude, follow_symlinks=settings.follow_symlinks)
    timings: Counter[str] = Counter()
    documents = DocumentStore()
    with engine or engine_for(settings) as running:

        def run_files(files: Sequence[InputFile]) -> Iterator[FileResult]:
            return _told(files, running.map_files(files, settings, ruleset), progress)

        units = split_large(discovery.files)
        results = run_files(units) if cache is None else cache.process(units, settings, ruleset, run_files)
        for batch, batch_timings in results:
            documents.extend(batch)
            timings.update(batch_timings)
        engine_record = running.describe()
    documents.sort_by_id()
    timings_rounded = {stage: round(seconds, 3) for stage, seconds in timings.items()}
    return Corpus(
        input_paths, discovery, ruleset, documents, [], timings_rounded, engine_record, reused_files=cache.reused if cache else 0
    )


def _large_cluster_warnings(corpus: Corpus, settings: Settings) -> Iterator[str]:
    """Warn about clusters holding a large share of the corpus: often a template, worth a look."""
    kept = sum(1 for status in statuses(corpus.documents) if status != "error")
    limit = max(10, settings.max_cluster_share * kept)
    for cluster in corpus.clusters:
        size = 1 + len(cluster.members)
        if size > limit:
            yield (
                f"{cluster.level} cluster {cluster.id} has {size} members ({size / max(kept, 1):.1%} of "
                f"{kept} documents), kept copy {cluster.canonical.doc}; check it is not a shared template "
                "(raise the threshold or max-cluster-share to silence this)"
            )


def process_file(file: InputFile, settings: Settings, ruleset: RuleSet) -> tuple[list[Document], dict[str, float]]:
    """Read one input file and run every per-document stage over its documents."""
    clock = time.perf_counter()
    documents = list(read_file(file, settings))
    timings = {"ingest": time.perf_counter() - clock}
    for name, stage in document_stages(settings, ruleset):
        clock = time.perf_counter()
        documents = [stage(doc) for doc in documents]
        timings[name] = time.perf_counter() - clock
    return documents, timings


def process_block(files: Sequence[InputFile], settings: Settings, ruleset: RuleSet, process: Callable[..., FileResult] = process_file) -> list[FileResult]:
    """`process` of each file of a block (what one task of an engine runs)."""
    return [process(file, settings, ruleset) for file in files]


Task = TypeVar("Task")

# Engines hand files to workers in blocks: at most BLOCK_BYTES of input, since a block's results
# wait whole in the worker and then here (~2.5 times its bytes: blocks of 62 files of a
# 1M-document corpus made 1.1 GB there and 0.6 GB here, and the first result came after 3
# minutes), at most BLOCK_FILES files (a task each for thousands of small pages would cost more
# to send than to clean), and at least BLOCKS_PER_WORKER blocks a worker, to balance them.
BLOCK_BYTES = 8 << 20
BLOCK_FILES = 64
BLOCKS_PER_WORKER = 4
# Blocks a local worker has queued or done ahead of the one being read: bounds the results held here.
BLOCKS_AHEAD = 2


def file_blocks(files: Sequence[InputFile], workers: int) -> list[list[InputFile]]:
    """The files, in order, cut into blocks as the constants above say.

    >>> from types import SimpleNamespace as File
    >>> [len(block) for block in file_blocks([File(stat_size=lambda: 3 << 20)] * 10, 1)]
    [2, 2, 2, 2, 2]
    >>> [len(block) for block in file_blocks([File(stat_size=lambda: 100)] * 200, 2)]
    [25, 25, 25, 25, 25, 25, 25, 25]
    """
    sizes = [file.stat_size() for file in files]
    spread = max(1, workers * BLOCKS_PER_WORKER)
    most_bytes = max(1, min(BLOCK_BYTES, sum(sizes) // spread))
    most_files = max(1, min(BLOCK_FILES, -(-len(files) // spread)))
    blocks: list[list[InputFile]] = []
    held = 0
    for file, size in zip(files, sizes):
        if not blocks or len(blocks[-1]) >= most_files or (held + size > most_bytes and blocks[-1]):
            blocks.append([])
            held = 0
        blocks[-1].append(file)
        held += size
    return blocks


def process_files(files: Sequence[InputFile], settings: Settings, ruleset: RuleSet) -> Iterator[FileResult]:
    """Yield each file's processed documents in file order, whatever the number of workers."""
    workers = min(settings.processes, len(files))
    if workers <= 1:
        yield from (process_file(file, settings, ruleset) for file in files)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        tasks = (pool.submit(process_block, block, settings, ruleset) for block in file_blocks(files, workers))
        yield from blocks_in_order(tasks, workers * BLOCKS_AHEAD, Future.result)


def blocks_in_order(tasks: Iterator[Task], ahead: int, result: Callable[[Task], list[FileResult]]) -> Iterator[FileResult]:
    """The results of block tasks in order, `ahead` tasks submitted beyond the one being read."""
    pending = deque(islice(tasks, ahead))
    while pending:
        results = result(pending.popleft())
        pending.extend(islice(tasks, 1))
        yield from results


def _told(files: Sequence[InputFile], results: Iterable[FileResult], progress: ProgressCallback | None) -> Iterator[FileResult]:
    """Pass the results through, telling `progress` each file's bytes are done before yielding
    it (a caller may stop asking once it has every result)."""
    sizes = [file.stat_size() for file in files]
    total, done = sum(sizes), 0
    for result, size in zip(results, sizes):
        done += size
        if progress:
            progress("clean", done, total)
        yield result


def build_manifest(corpus: Corpus, settings: Settings) -> dict[str, Any]:
    """Describe the run: settings, inputs, counts per status and rule, clusters and errors."""
    counts = Counter({"kept": 0, "dropped": 0, "error": 0})
    removed: dict[str, dict[str, int]] = {}
    dropped: Counter[str] = Counter()
    fixes: Counter[str] = Counter()
    digest = hashlib.sha256()
    for doc in corpus.documents:
        counts[doc.status] += 1
        digest.update(f"{doc.id}\t{doc.source.sha256}\n".encode("utf-8", "surrogatepass"))
        for removal in doc.removed:
            entry = removed.setdefault(removal.rule, {"spans": 0, "chars": 0})
            entry["spans"] += 1
            entry["chars"] += removal.end - removal.start
        if doc.status == "dropped" and doc.reason:
            dropped[doc.reason.rule or doc.reason.name] += 1
        fixes.update({fix.rule for fix in doc.fixes})
    levels = Counter(cluster.level for cluster in corpus.clusters)
    return {
        "tool": "cleaner",
        "version": __version__,
        "settings": settings.to_record(),
        "engine": corpus.engine,
        "rules": {"ids": list(corpus.ruleset.ids), "digest": corpus.ruleset.digest},
        "inputs": {
            "paths": [redact(path) if isinstance(path, str) else str(path) for path in corpus.inputs],
            "files": len(corpus.discovery.files),
            "skipped": [{"path": path, "reason": reason} for path, reason in corpus.discovery.skipped],
            "documents": len(corpus.documents),
            "bytes": sum(file.stat_size() for file in corpus.discovery.files),
            "digest": digest.hexdigest(),
        },
        "counts": dict(counts),
        "dropped": dict(sorted(dropped.items())),
        "removed": dict(sorted(removed.items())),
        "fixes": dict(sorted(fixes.items())),
        "clusters": {"document": levels["document"], "paragraph": levels["paragraph"]},
        "warnings": corpus.warnings,
        "errors": [
            {"id": doc.id, "path": doc.source.path, **(doc.reason.to_record() if doc.reason else {})}
            for doc in corpus.errors
        ],
        "timings": dict(corpus.timings),
    }


@dataclass
class IndexRun:
    """What `cleaner index build` did: the corpus it read and the copies it added per level."""

    corpus: Corpus
    added: dict[str, int]
    stored: dict[str, int]


def build_index(
    inputs: Sequence[Path | str], path: Path | str, settings: Settings, progress: ProgressCallback | None = None
) -> IndexRun:
    """Add the kept copies of a corpus to the index at `path` (made if missing), in one transaction."""
    with open_index(path, settings, create=True) as index:
        corpus = prepare_corpus(inputs, settings, exclude=[] if is_redis_url(path) else [Path(path)], progress=progress, index=index)
        added = index.save()
        return IndexRun(corpus, added, index.counts())


def query_index(path: Path | str, inputs: Sequence[Path | str], settings: Settings, limit: int = 5) -> list[dict[str, Any]]:
    """The stored copies nearest to each document (and paragraph) of the inputs, best first.

    The inputs are read with `settings`; similarity uses the index's own match settings.
    """
    with Index.open(path) as index:
        return index.nearest(read_corpus(inputs, settings).documents, limit)
