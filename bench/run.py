"""Speed and memory of `cleaner run` per stage, and of text-to-signature and LSH baselines (issue 6).

Prints one table. Every measured thing runs in its own subprocess, so each peak RSS belongs to
one run; baselines are pinned to one core; rates are medians of --repeats runs in that process.

  python bench/run.py                          # ~5 min: cleaner run on 1k docs (2 workers),
                                               # signatures and LSH on the 10k corpus
  python bench/run.py --e2e 10000 --workers 1,2 --variants current,sha1,legacy
  python bench/run.py --e2e 100000 --skip-signatures --skip-lsh     # hours with langdetect
  python bench/run.py --collisions             # poly64 vs sha1 collision counts on BBC shingles

Corpora come from bench/corpus.py and are cached under --work (default $TMPDIR/cleaner-bench),
never inside the repository. `--variants` picks `cleaner run` configurations (E2E_VARIANTS):
`current` (the defaults), `sha1` (datasketch's shingle hash), `langdetect` (language ID by
langdetect alone) and `legacy` (langdetect, and fingerprints in Python as before the kernel);
the table says whether each variant's docs.jsonl and clusters.jsonl equal the first one's.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}

# (method, documents timed) for word-3 document signatures; every method reads a prefix of the
# same document list, slow ones a shorter prefix so that a run takes seconds, not minutes.
DOCUMENT_METHODS = [
    ("datasketch-update", 200),
    ("datasketch-update_batch", 1000),
    ("rensa-RMinHash", 2000),
    ("rensa-CMinHash", 2000),
    ("datatrove-spacy", 300),
    ("datatrove-split", 1000),
    ("cleaner-current", 1000),
    ("kernel-numpy", 1000),
    ("kernel-numba", 10000),
    ("kernel-sha1", 5000),
    ("kernel", 10000),
    ("kernel-batch", 10000),
]
PARAGRAPH_METHODS = [
    ("datasketch-update_batch", 3000),
    ("rensa-RMinHash", 12000),
    ("cleaner-current", 3000),
    ("kernel-sha1", 12000),
    ("kernel", 12000),
    ("kernel-batch", 12000),
]
LABELS = {
    "datasketch-update": "(a) datasketch MinHash.update per shingle",
    "datasketch-update_batch": "(b) datasketch MinHash.update_batch",
    "rensa-RMinHash": "(c) rensa RMinHash",
    "rensa-CMinHash": "(c) rensa CMinHash",
    "datatrove-spacy": "(d) datatrove MinhashDedupSignature, spaCy words",
    "datatrove-split": "(d) datatrove MinhashDedupSignature, str.split",
    "cleaner-current": "(e) cleaner.minhash Shingling+MinHasher",
    "kernel-numpy": "(f) fastminhash poly64, numpy fallback",
    "kernel-numba": "(f) same algorithm in numba (bench only)",
    "kernel-sha1": "(f) fastminhash sha1 (= datasketch values)",
    "kernel": "(f) fastminhash poly64, C, one call per text",
    "kernel-batch": "(f) fastminhash poly64, C, batch call",
}


# ---------------------------------------------------------------------------------------------
# Children: each measured thing runs in a fresh process.


def max_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})


def load_texts(corpus: Path, count: int, level: str) -> list[str]:
    """The first `count` documents (or paragraphs of 8+ words) of a txt corpus, in id order."""
    paths = sorted((corpus / "docs").rglob("*.txt"))
    texts: list[str] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if level == "document":
            texts.append(text)
        else:
            texts.extend(p for p in text.split("\n\n") if len(p.split()) >= 8)
        if len(texts) >= count:
            break
    return texts[:count]


def signature_method(name: str, level: str):
    """Return (callable over a list of texts, notes) for one text-to-signature method."""
    from cleaner.minhash import MinHasher, Shingling, char_shingles, word_shingles

    unit, n = ("word", 3) if level == "document" else ("char", 5)
    shingle = (lambda t: word_shingles(t, 3)) if unit == "word" else (lambda t: char_shingles(t, 5))
    notes: dict = {}
    if name == "datasketch-update":
        from datasketch import MinHash

        def run(texts):
            for text in texts:
                m = MinHash(num_perm=128, seed=1)
                for s in shingle(text):
                    m.update(s.encode("utf-8"))
    elif name == "datasketch-update_batch":
        from datasketch import MinHash

        def run(texts):
            for text in texts:
                m = MinHash(num_perm=128, seed=1)
                m.update_batch([s.encode("utf-8") for s in shingle(text)])
    elif name.startswith("rensa-"):
        import rensa

        cls = getattr(rensa, name.split("-")[1])

        def run(texts):
            for text in texts:
                m = cls(num_perm=128, seed=1)
                m.update(shingle(text))
                m.digest()
        notes["version"] = _version("rensa")
    elif name.startswith("datatrove-"):
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
        from datatrove.utils.word_tokenizers import WordTokenizer

        class SplitTokenizer(WordTokenizer):
            def word_tokenize(self, text):
                return text.split()

            def sent_tokenize(self, text):
                return [text]

            def span_tokenize(self, text):
                return []

        n_grams = 3 if unit == "word" else 5
        config = MinhashConfig(n_grams=n_grams, num_buckets=16, hashes_per_bucket=8, seed=1)
        language = "en" if name == "datatrove-spacy" else SplitTokenizer()
        with tempfile.TemporaryDirectory() as folder:
            stage = MinhashDedupSignature(folder, config, language=language)

        def run(texts):
            for text in texts:
                stage.get_signature(stage.get_shingles(text))
        notes["version"] = _version("datatrove")
    elif name == "cleaner-current":
        shingling, hasher = Shingling(unit, n), MinHasher()

        def run(texts):
            for text in texts:
                hasher.signature(shingling.hashes(text))
    elif name == "kernel-numba":
        import numba_minhash
        from cleaner.fastminhash import Fingerprinter

        reference = Fingerprinter(unit, n)
        fingerprinter = numba_minhash.NumbaFingerprinter(unit, n, reference._a, reference._b)
        notes["import_s"] = round(numba_minhash.IMPORT_SECONDS, 2)
        notes["compile_s"] = round(numba_minhash.compile_seconds(fingerprinter), 2)
        notes["version"] = numba_minhash.numba.__version__

        def run(texts):
            for text in texts:
                fingerprinter.fingerprint(text)
    elif name.startswith("kernel"):
        from cleaner import fastminhash

        started = time.perf_counter()
        backend = "numpy" if name == "kernel-numpy" else "c"
        fingerprinter = fastminhash.Fingerprinter(unit, n, hash="sha1" if name == "kernel-sha1" else "poly64", backend=backend)
        notes["load_s"] = round(time.perf_counter() - started, 3)
        if name == "kernel-batch":
            def run(texts):
                for start in range(0, len(texts), 1000):
                    fingerprinter.fingerprints(texts[start : start + 1000])
        else:
            def run(texts):
                for text in texts:
                    fingerprinter.fingerprint(text)
    else:
        raise ValueError(name)
    return run, notes


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def child_signature(spec: dict) -> dict:
    pin_one_core()
    texts = load_texts(Path(spec["corpus"]), spec["count"], spec["level"])
    try:
        run, notes = signature_method(spec["method"], spec["level"])
    except Exception as error:  # a baseline that does not install or import is reported, not fatal
        return {"error": f"{type(error).__name__}: {error}"}
    run(texts[:20])
    times = []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        run(texts)
        times.append(time.perf_counter() - started)
    return {"times": times, "items": len(texts), "bytes": sum(len(t.encode("utf-8")) for t in texts), "rss_mb": max_rss_mb(), **notes}


E2E_VARIANTS = {
    "current": {},  # the defaults: poly64 shingle hash, fastText-first language ID
    "sha1": {"shingle_hash": "sha1"},  # datasketch's sha1_hash32 values through the same kernel
    "langdetect": {"langid_backend": "langdetect"},  # language ID by langdetect alone
    "legacy": {"langid_backend": "langdetect"},  # + shingles and signatures in Python (cleaner.minhash), as before the kernel
}


def child_e2e(spec: dict) -> dict:
    """`cleaner.clean_corpus` with timers around fingerprinting, dedup and write."""
    import cleaner
    import cleaner.fastminhash as fastminhash
    import cleaner.pipeline as pipeline
    from cleaner.config import Settings

    clock = {"fingerprint": 0.0, "fingerprint_calls": 0}
    rss = {}
    variant = spec["variant"]
    Fingerprinter = fastminhash.Fingerprinter
    original = Fingerprinter.fingerprint, Fingerprinter.fingerprints
    if variant == "legacy":
        install_python_fingerprints(fastminhash)
    single, batch = Fingerprinter.fingerprint, Fingerprinter.fingerprints

    def timed(function):
        def wrapper(self, texts):
            started = time.perf_counter()
            try:
                return function(self, texts)
            finally:
                clock["fingerprint"] += time.perf_counter() - started
                clock["fingerprint_calls"] += 1
        return wrapper

    Fingerprinter.fingerprint, Fingerprinter.fingerprints = timed(single), timed(batch)
    deduplicate, write_output = pipeline.deduplicate, pipeline.write_output

    def timed_deduplicate(*args, **kwargs):
        rss["before_dedup"] = max_rss_mb()
        try:
            return deduplicate(*args, **kwargs)
        finally:
            rss["after_dedup"] = max_rss_mb()

    def timed_write(*args, **kwargs):
        try:
            return write_output(*args, **kwargs)
        finally:
            rss["after_write"] = max_rss_mb()

    pipeline.deduplicate, pipeline.write_output = timed_deduplicate, timed_write
    out = Path(spec["out"])
    started = time.perf_counter()
    result = cleaner.clean_corpus([spec["inputs"]], out, Settings(workers=spec["workers"], **E2E_VARIANTS[variant]))
    wall = time.perf_counter() - started
    Fingerprinter.fingerprint, Fingerprinter.fingerprints = original
    digests = {name: _sha256(out / name) for name in ("docs.jsonl", "clusters.jsonl")}
    labels = Path(spec["inputs"]).parent / "labels.jsonl"
    return {
        "planted": planted_found(out / "docs.jsonl", labels) if labels.is_file() else None,
        "wall": wall,
        "timings": result.manifest["timings"],
        "counts": result.manifest["counts"],
        "clusters": result.manifest.get("clusters"),
        "fingerprint": clock["fingerprint"],
        "fingerprint_calls": clock["fingerprint_calls"],
        "rss_mb": max_rss_mb(),
        "children_rss_mb": max_rss_mb(resource.RUSAGE_CHILDREN),
        "rss_stages": rss,
        "digests": digests,
    }


def planted_found(docs: Path, labels: Path) -> dict:
    """How many planted duplicates the run removed, and how many removals were not planted.

    Documents: exact and near copies should be dropped, originals kept. Paragraphs: every use of
    a background paragraph after its first, in a document that is kept, should be removed.
    """
    import cleaner

    planted = {}
    with open(labels, encoding="utf-8") as handle:
        for line in handle:
            label = json.loads(line)
            planted[label["id"]] = label
    found = {"exact": [0, 0], "near": [0, 0], "originals_dropped": 0, "background": [0, 0], "other_paragraphs_removed": 0}
    first_use: set[int] = set()
    with open(docs, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            label = planted.get(record["id"])
            if label is None:
                continue
            dropped = record["status"] == "dropped" and (record.get("reason") or {}).get("stage") == "dedup"
            if label["kind"] in ("exact", "near"):
                found[label["kind"]][0] += dropped
                found[label["kind"]][1] += 1
                if label["kind"] == "near":
                    kind = "near:" + "+".join(label.get("edits", []))
                    found.setdefault(kind, [0, 0])
                    found[kind][0] += dropped
                    found[kind][1] += 1
                continue
            found["originals_dropped"] += dropped
            if record["status"] != "kept":
                continue
            # A removed span may start on the blank line before its paragraph: place it by its middle.
            middles = [(r["start"] + r["end"]) // 2 for r in record["removed"] if r.get("rule") == "DD002"]
            text = cleaner.rebuild_text(record["text"], record["removed"]) if middles else ""
            removed_paragraphs = {text[:middle].count("\n\n") for middle in middles}
            expected = set()
            for use in label.get("background", []):
                if use["background"] in first_use:
                    expected.add(use["paragraph"])
                else:
                    first_use.add(use["background"])
            found["background"][0] += len(expected & removed_paragraphs)
            found["background"][1] += len(expected)
            found["other_paragraphs_removed"] += len(removed_paragraphs - expected)
    return found


def install_python_fingerprints(fastminhash) -> None:
    """Fingerprints as cleaner computed them before the kernel: shingle strings and hashlib SHA-1
    in Python (`cleaner.minhash.Shingling`), signatures in numpy (`MinHasher`)."""
    import numpy as np

    from cleaner.minhash import MinHasher, Shingling

    def fingerprint(self, text):
        hashes = Shingling(self.unit, self.n).hashes(text)
        return fastminhash.Fingerprint(hashes, MinHasher(self.num_perm, self.seed).signature(hashes))

    def fingerprints(self, texts):
        found = [fingerprint(self, text) for text in texts]
        signatures = np.array([f.signature for f in found], dtype=np.uint32).reshape(len(found), self.num_perm)
        return signatures, [f.hashes for f in found]

    fastminhash.Fingerprinter.fingerprint, fastminhash.Fingerprinter.fingerprints = fingerprint, fingerprints


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def child_lsh(spec: dict) -> dict:
    """Insert every signature, then query every one; return seconds and candidate pairs."""
    from cleaner.fastminhash import Fingerprinter
    from cleaner.lsh import lsh_bands

    pin_one_core()
    level, count, method = spec["level"], spec["count"], spec["method"]
    texts = load_texts(Path(spec["corpus"]), count, level)
    unit, n = ("word", 3) if level == "document" else ("char", 5)
    signatures, _ = Fingerprinter(unit, n).fingerprints(texts)
    bands, rows = lsh_bands(spec["threshold"], 128)  # the layout cleaner's dedup uses
    base_rss = max_rss_mb()
    result: dict = {"items": len(texts), "bands": bands, "rows": rows, "bytes": sum(len(t.encode()) for t in texts)}
    if method == "datasketch":
        from datasketch import LeanMinHash, MinHashLSH

        started = time.perf_counter()
        lsh = MinHashLSH(num_perm=128, params=(bands, rows))
        leans = [LeanMinHash(seed=1, hashvalues=row, scheme="affine32") for row in signatures]
        for key, lean in enumerate(leans):
            lsh.insert(key, lean)
        result["insert"] = time.perf_counter() - started
        started = time.perf_counter()
        pairs = query_pairs(leans, lsh.query)
        result["query"] = time.perf_counter() - started
    elif method == "rensa":
        import rensa

        minhashes = []
        for text in texts:
            m = rensa.RMinHash(num_perm=128, seed=1)
            from cleaner.minhash import char_shingles, word_shingles

            m.update(word_shingles(text, 3) if unit == "word" else char_shingles(text, 5))
            minhashes.append(m)
        started = time.perf_counter()
        lsh = rensa.RMinHashLSH(threshold=spec["threshold"], num_perm=128, num_bands=bands)
        for key, m in enumerate(minhashes):
            lsh.insert(key, m)
        result["insert"] = time.perf_counter() - started
        started = time.perf_counter()
        pairs = query_pairs(minhashes, lsh.query)
        result["query"] = time.perf_counter() - started
        result["note"] = "rensa's own hash; pairs not comparable"
    elif method == "dict":
        started = time.perf_counter()
        tables: list[dict] = [dict() for _ in range(bands)]
        keys = [[row[b * rows : (b + 1) * rows].tobytes() for b in range(bands)] for row in signatures]
        for key, row_keys in enumerate(keys):
            for table, band_key in zip(tables, row_keys):
                table.setdefault(band_key, []).append(key)
        result["insert"] = time.perf_counter() - started
        started = time.perf_counter()
        pairs = set()
        for key, row_keys in enumerate(keys):
            found = set()
            for table, band_key in zip(tables, row_keys):
                found.update(table.get(band_key, ()))
            found.discard(key)
            pairs.update((min(key, other), max(key, other)) for other in found)
        result["query"] = time.perf_counter() - started
    elif method == "cleaner":
        from cleaner.lsh import BandIndex

        started = time.perf_counter()
        index = BandIndex(spec["threshold"], 128, layout=(bands, rows))
        keys = index.keys(signatures)
        for key, row_keys in enumerate(keys):
            index.insert(key, row_keys)
        result["insert"] = time.perf_counter() - started
        started = time.perf_counter()
        pairs = query_pairs(keys, index.query)
        result["query"] = time.perf_counter() - started
    elif method == "numpy":
        started = time.perf_counter()
        codes = numpy_banding(signatures, bands, rows)
        result["insert"] = time.perf_counter() - started
        result["query"] = 0.0
        pairs = {(int(code) // len(texts), int(code) % len(texts)) for code in codes}
    else:
        raise ValueError(method)
    result["pairs"] = len(pairs)
    result["pairs_digest"] = hashlib.sha256(repr(sorted(pairs)).encode()).hexdigest()[:16]
    result["rss_mb"] = max_rss_mb()
    result["rss_over_signatures_mb"] = max_rss_mb() - base_rss
    return result


def query_pairs(items, query) -> set[tuple[int, int]]:
    """Query every item (numbered by position) and collect the candidate pairs (i < j)."""
    pairs = set()
    for key, item in enumerate(items):
        pairs.update((min(key, other), max(key, other)) for other in query(item) if other != key)
    return pairs


def numpy_banding(signatures, bands: int, rows: int):
    """Candidate pairs (i * n + j, i < j) of signatures that agree on at least one whole band.

    Each band's rows are folded into one 64-bit key (a collision only adds a candidate, which
    verification rejects), keys are sorted, and pairs are read off runs of equal keys.
    """
    import numpy as np

    count = len(signatures)
    codes = []
    index = np.arange(count, dtype=np.int64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
            key = np.full(count, np.uint64(0x9E3779B97F4A7C15), np.uint64)
            for column in range(rows):
                key = (key ^ block[:, column]) * np.uint64(0xFF51AFD7ED558CCD)
                key ^= key >> np.uint64(29)
            order = np.argsort(key, kind="stable")
            ordered = key[order]
            starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
            sizes = np.diff(np.concatenate((starts, [count])))
            pairs = starts[sizes == 2]
            if pairs.size:
                a, b = index[order[pairs]], index[order[pairs + 1]]
                codes.append(np.minimum(a, b) * count + np.maximum(a, b))
            for start, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist()):
                members = np.sort(order[start : start + size])
                i, j = np.triu_indices(size, 1)
                codes.append(members[i] * count + members[j])
    return np.unique(np.concatenate(codes)) if codes else np.zeros(0, np.int64)


def child_collisions(spec: dict) -> dict:
    """Distinct word-3 and char-5 shingles of the BBC corpus: collisions of each hash."""
    import numpy as np

    import corpus as corpus_module
    from cleaner.fastminhash import POLY_BASE, fmix64_array, _powers, sha1_hash32
    from cleaner.minhash import char_shingles, word_shingles

    texts = ["\n\n".join([headline, *paragraphs]) for _, headline, paragraphs in corpus_module.load_bbc(Path(spec["data"]))]
    sources = [("BBC", texts)]
    if spec.get("corpus"):
        sources.append((f"bench corpus {spec['count']:,} docs", load_texts(Path(spec["corpus"]), spec["count"], "document")))
    result = {}
    for (source, source_texts), (unit, shingler) in itertools.product(
        sources, (("word-3", lambda t: word_shingles(t, 3)), ("char-5", lambda t: char_shingles(t, 5)))
    ):
        label = f"{source} {unit}"
        distinct = set()
        for text in source_texts:
            distinct.update(shingler(text))
        encoded = [s.encode("utf-8") for s in distinct]
        data = np.frombuffer(b"".join(encoded), np.uint8)
        ends = np.cumsum([len(e) for e in encoded])
        starts = ends - np.array([len(e) for e in encoded])
        size = data.size
        powers = _powers(POLY_BASE, size + 1)
        inverse = _powers(pow(POLY_BASE, -1, 1 << 64), size)
        with np.errstate(over="ignore"):
            q = np.zeros(size + 1, np.uint64)
            q[1:] = np.cumsum(data.astype(np.uint64) * inverse, dtype=np.uint64)
            h64 = powers[ends - 1] * (q[ends] - q[starts])
            h32 = (fmix64_array(h64 ^ (ends - starts).astype(np.uint64)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        sha = np.fromiter((sha1_hash32(e) for e in encoded), np.uint32, len(encoded))
        count = len(encoded)
        result[label] = {
            "distinct_shingles": count,
            "poly64_64bit_collisions": int(count - np.unique(h64).size),
            "poly64_32bit_collisions": int(count - np.unique(h32).size),
            "sha1_32bit_collisions": int(count - np.unique(sha).size),
            "birthday_expected_32bit": round(count * (count - 1) / 2 / 2**32, 1),
        }
    return result


CHILDREN = {"signature": child_signature, "e2e": child_e2e, "lsh": child_lsh, "collisions": child_collisions}


# ---------------------------------------------------------------------------------------------
# Parent: corpora, subprocesses, the table.


def run_child(spec: dict, timeout: float | None = None) -> dict:
    env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONHASHSEED": "0"}
    env.setdefault("NUMBA_CACHE_DIR", str(Path(spec.get("work", tempfile.gettempdir())) / "numba-cache"))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    process = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(REPO))
    if process.returncode != 0:
        return {"error": (process.stderr.strip().splitlines() or ["exit %d" % process.returncode])[-1]}
    return json.loads(process.stdout.strip().splitlines()[-1])


def ensure_corpus(work: Path, size: int, seed: int, jobs: int) -> Path:
    import corpus

    folder = work / f"corpus-{size}-txt-seed{seed}-v{corpus.VERSION}"
    if (folder / "corpus.json").is_file():
        return folder
    print(f"bench: generating {size:,} documents into {folder} ...", file=sys.stderr, flush=True)
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    corpus.write_corpus(partial, size, "txt", seed, jobs=jobs)
    partial.rename(folder)
    return folder


class Table:
    COLUMNS = ("section", "what", "items", "items/s", "MB/s", "peak RSS MB", "wall s", "x (a)", "x rensa")

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.notes: list[str] = []

    def add(self, section, what, items=None, seconds=None, megabytes=None, rss=None, wall=None, vs_a=None, vs_rensa=None):
        rate = items / seconds if items and seconds else None
        mbps = megabytes / seconds if megabytes and seconds else None
        self.rows.append((section, what, items, rate, mbps, rss, wall if wall is not None else seconds, vs_a, vs_rensa))

    def render(self) -> str:
        def cell(value, column):
            if value is None:
                return ""
            if isinstance(value, str):
                return value
            if column in ("x (a)", "x rensa"):
                return f"{value:,.1f}x" if value < 100 else f"{value:,.0f}x"
            if column == "items":
                return f"{value:,}"
            if column in ("items/s",):
                return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
            if column == "wall s":
                return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
            return f"{value:,.1f}"

        cells = [self.COLUMNS] + [tuple(cell(v, c) for v, c in zip(row, self.COLUMNS)) for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.COLUMNS))]
        lines = []
        for number, row in enumerate(cells):
            parts = [row[i].ljust(widths[i]) if i < 2 else row[i].rjust(widths[i]) for i in range(len(row))]
            lines.append(" | ".join(parts).rstrip())
            if number == 0:
                lines.append("-+-".join("-" * w for w in widths))
        return "\n".join(lines + [""] + self.notes)


def bench_e2e(table: Table, args, work: Path) -> dict:
    results = {}
    for size in args.e2e:
        corpus = ensure_corpus(work, size, args.seed, args.jobs)
        spec_bytes = json.loads((corpus / "corpus.json").read_text())["bytes"]
        megabytes = spec_bytes / 1e6
        for workers in args.workers:
            reference_digests = None
            for variant in args.variants:
                out = work / f"out-{size}-{workers}-{variant}"
                if out.exists():
                    shutil.rmtree(out)
                print(f"bench: cleaner run, {size:,} docs, {workers} worker(s), {variant} ...", file=sys.stderr, flush=True)
                found = run_child({"task": "e2e", "inputs": str(corpus / "docs"), "out": str(out), "workers": workers,
                                   "variant": variant, "work": str(work)})
                shutil.rmtree(out, ignore_errors=True)
                key = f"{size}/{workers}/{variant}"
                results[key] = found
                section = f"run {size // 1000}k w{workers} {variant}"
                if "error" in found:
                    table.add(section, f"failed: {found['error']}")
                    continue
                timings = found["timings"]
                rss_stages = found["rss_stages"]
                per_document_rss = max(found["children_rss_mb"], rss_stages.get("before_dedup", 0))
                for stage in ("ingest", "normalise", "rules", "langid"):
                    if stage in timings:
                        table.add(section, stage + (" (sum over workers)" if workers > 1 else ""), size, timings[stage], megabytes, per_document_rss)
                dedup = timings.get("dedup", 0.0)
                table.add(section, "fingerprint (inside dedup)", size, found["fingerprint"], megabytes, None)
                table.add(section, "dedup without fingerprint", size, dedup - found["fingerprint"], megabytes, None)
                table.add(section, "dedup", size, dedup, megabytes, rss_stages.get("after_dedup"))
                table.add(section, "write", size, timings.get("write"), megabytes, rss_stages.get("after_write"))
                table.add(section, "end to end", size, found["wall"], megabytes, max(found["rss_mb"], found["children_rss_mb"]))
                if reference_digests is None:
                    reference_digests = found["digests"]
                else:
                    same = found["digests"] == reference_digests
                    table.notes.append(f"{size:,} docs, {workers} worker(s): {variant} output {'byte-identical to' if same else 'DIFFERS from'} "
                                       f"{args.variants[0]} (docs.jsonl, clusters.jsonl)")
                if variant == args.variants[0]:
                    table.notes.append(f"{size:,} docs, {workers} worker(s), {variant}: counts {found['counts']}, clusters {found['clusters']}, "
                                       f"{found['fingerprint_calls']:,} fingerprint calls; planted found {found['planted']}")
    return results


def bench_signatures(table: Table, args, work: Path) -> dict:
    corpus = ensure_corpus(work, max(10000, args.signature_docs), args.seed, args.jobs)
    results = {}
    for level, methods in (("document", DOCUMENT_METHODS), ("paragraph", PARAGRAPH_METHODS)):
        found_level = {}
        for method, count in methods:
            print(f"bench: signatures, {level}, {method} ...", file=sys.stderr, flush=True)
            found_level[method] = run_child({"task": "signature", "method": method, "level": level, "corpus": str(corpus),
                                             "count": max(20, int(count * args.scale)), "repeats": args.repeats, "work": str(work)})
        results[level] = found_level

        def rate(method):
            entry = found_level.get(method, {})
            return entry["items"] / statistics.median(entry["times"]) if "times" in entry else None

        base, rensa = rate("datasketch-update"), rate("rensa-RMinHash")
        shingling = "word-3 documents" if level == "document" else "char-5 paragraphs"
        for method, _ in methods:
            entry = found_level[method]
            label = LABELS[method]
            if "error" in entry:
                table.add(f"signature, {shingling}", f"{label}: unavailable ({entry['error'][:90]})")
                continue
            median = statistics.median(entry["times"])
            mine = entry["items"] / median
            extras = {k: v for k, v in entry.items() if k in ("version", "import_s", "compile_s", "load_s")}
            if extras:
                table.notes.append(f"{label} [{shingling}]: " + ", ".join(f"{k} {v}" for k, v in extras.items()))
            table.add(f"signature, {shingling}", label, entry["items"], median, entry["bytes"] / 1e6, entry["rss_mb"], median,
                      mine / base if base else None, mine / rensa if rensa else None)
    table.notes.append(f"signatures: 128 permutations, one core (pinned), median of {args.repeats} runs in one process; "
                       "every method reads a prefix of the same text list (items column)")
    return results


def bench_lsh(table: Table, args, work: Path) -> dict:
    corpus = ensure_corpus(work, 10000, args.seed, args.jobs)
    results = {}
    for level, count in (("document", max(100, int(10000 * args.scale))), ("paragraph", max(100, int(args.lsh_paragraphs * args.scale)))):
        digests = {}
        for method in args.lsh_methods:
            print(f"bench: LSH, {count:,} {level} signatures, {method} ...", file=sys.stderr, flush=True)
            found = run_child({"task": "lsh", "method": method, "level": level, "corpus": str(corpus), "count": count,
                               "threshold": 0.5, "work": str(work)})
            results[f"{level}/{method}"] = found
            what = f"{method} insert+query ({count // 1000}k {level} signatures)"
            if "error" in found:
                table.add("LSH", f"{what}: failed: {found['error'][:90]}")
                continue
            seconds = found["insert"] + found["query"]
            table.add("LSH", f"{what}, {found['pairs']:,} candidate pairs", found["items"], seconds, None, found["rss_mb"], seconds)
            if method != "rensa":
                digests[method] = found["pairs_digest"]
        if len(set(digests.values())) > 1:
            table.notes.append(f"LSH {level}: candidate pairs DIFFER between {', '.join(digests)}")
        elif digests:
            layout = results[f"{level}/{next(iter(digests))}"]
            table.notes.append(f"LSH {level}: same candidate pairs from {', '.join(digests)} ({layout['bands']} bands x "
                               f"{layout['rows']} rows, cleaner.lsh.lsh_bands for threshold 0.5; rensa needs bands dividing 128)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--e2e", type=lambda s: [int(x) for x in s.split(",") if x], default=[1000],
                        help="corpus sizes for cleaner run, comma-separated (default 1000; 10000 takes ~10 min per variant)")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[2])
    parser.add_argument("--variants", type=lambda s: s.split(","), default=["current"],
                        help="comma-separated, from: current, sha1, langdetect, legacy")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the per-method text counts (0.1 for a smoke test)")
    parser.add_argument("--signature-docs", type=int, default=10000)
    parser.add_argument("--lsh-paragraphs", type=int, default=100000)
    parser.add_argument("--lsh-methods", type=lambda s: s.split(","), default=["datasketch", "cleaner", "dict", "numpy", "rensa"])
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-signatures", action="store_true")
    parser.add_argument("--skip-lsh", action="store_true")
    parser.add_argument("--collisions", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="processes generating corpora")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "cleaner-bench")
    parser.add_argument("--json", type=Path, default=BENCH / "results" / "run.json", help="raw results (gitignored folder)")
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(CHILDREN[spec["task"]](spec)))
        return 0
    if args.work.resolve().is_relative_to(REPO):
        parser.error("--work must be outside the repository")
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    table = Table()
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count()}
    if not args.skip_e2e and args.e2e:
        results["e2e"] = bench_e2e(table, args, args.work)
    if not args.skip_signatures:
        results["signatures"] = bench_signatures(table, args, args.work)
    if not args.skip_lsh:
        results["lsh"] = bench_lsh(table, args, args.work)
    if args.collisions:
        import corpus

        bench_corpus = ensure_corpus(args.work, 10000, args.seed, args.jobs)
        found = run_child({"task": "collisions", "data": str(corpus.DEFAULT_DATA), "work": str(args.work),
                           "corpus": str(bench_corpus), "count": int(10000 * args.scale)})
        results["collisions"] = found
        for label, entry in found.items():
            if isinstance(entry, dict):
                table.notes.append(f"collisions, {label}: " + ", ".join(f"{k} {v:,}" for k, v in entry.items()))
            else:
                table.notes.append(f"collisions: {label} {entry}")
    table.notes.append(f"machine: {os.cpu_count()} cores; total bench time {time.perf_counter() - started:,.0f} s; "
                       "RSS from getrusage (per-document stages: the larger of the parent before dedup and the biggest worker)")
    print(table.render())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
