"""Write the output contract: docs.jsonl, text/<id>.txt, clusters.jsonl, manifest.json.

A run writes into a staging folder beside OUT and swaps it in only when everything, the manifest
last, is on disk; a crash leaves either the previous complete OUT or none, never a partial one.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .document import Document
from .errors import OutputError

MANIFEST = "manifest.json"
DOCS = "docs.jsonl"
CLUSTERS = "clusters.jsonl"
TEXT_DIR = "text"
_MAX_SEGMENT = 200 - len(".txt")
# A lone surrogate (a file name's undecodable byte, say) cannot be UTF-8; written as a \uXXXX
# escape it stays valid JSON that reads back to the same string, instead of failing the run.
ENCODING_ERRORS = "backslashreplace"


@dataclass(frozen=True)
class WriteStats:
    documents: int
    chars: int
    bytes: int


def check_output_dir(out: Path) -> None:
    """Refuse an OUT that exists but was not written by cleaner, so a typo cannot wipe a folder."""
    recover_interrupted(out)
    if not out.exists():
        if out.is_symlink():
            raise OutputError(f"output {str(out)!r} is a broken symbolic link; remove it or pick another folder")
        return
    if not out.is_dir():
        raise OutputError(f"output {str(out)!r} is a file; pass a folder (new or written by cleaner)")
    if any(out.iterdir()) and not is_cleaner_output(out):
        raise OutputError(
            f"output folder {str(out)!r} is not empty and holds no cleaner manifest.json; "
            "pass a new or empty folder (cleaner replaces OUT as a whole)"
        )


def is_cleaner_output(out: Path) -> bool:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("tool") == "cleaner"
    except (OSError, ValueError, AttributeError):
        return False


def recover_interrupted(out: Path) -> None:
    """Undo what a killed run left beside OUT: drop its staging folder, restore a moved-away OUT."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        return
    for leftover in sorted(parent.glob(f".{out.name}.cleaner-tmp-*")):
        shutil.rmtree(leftover, ignore_errors=True)
    for previous in sorted(parent.glob(f".{out.name}.cleaner-old-*")):
        if not out.exists() and is_cleaner_output(previous):
            previous.rename(out)
        else:
            shutil.rmtree(previous, ignore_errors=True)


def interrupted_run_note(out: Path) -> str:
    """Say what an unfinished run left beside OUT (staging folder, moved-away OUT, result cache); empty when none."""
    parent = out.parent if str(out.parent) else Path(".")
    traces = sorted(path.name for path in parent.glob(f".{glob.escape(out.name)}.cleaner-*"))
    if not traces:
        return ""
    return (
        f"a run writing {str(out)!r} was interrupted or is still going (it left {', '.join(traces)}); "
        f"{'the folder holds the last complete output' if is_cleaner_output(out) else 'no complete output is there'}: "
        f"finish it with `cleaner run IN... {out} --resume`"
    )


def write_output(
    out: Path,
    documents: Iterable[Document],
    clusters: Iterable[dict[str, Any]],
    manifest: dict[str, Any],
    started: float | None = None,
) -> dict[str, Any]:
    """Write every file of the contract into a staging folder, then swap it in as OUT.

    Returns the manifest as written, with its `output` section and the write and total times
    (`started` is the run's `time.perf_counter()` at its start).
    """
    clock = time.perf_counter()
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.cleaner-tmp-{os.getpid()}"
    staging.mkdir()
    try:
        stats = _write_documents(staging, documents)
        _write_lines(staging / CLUSTERS, (json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in clusters))
        timings = {**manifest.get("timings", {}), "write": round(time.perf_counter() - clock, 3)}
        if started is not None:
            timings["total"] = round(time.perf_counter() - started, 3)
        output = {"documents": stats.documents, "chars": stats.chars, "bytes": stats.bytes}
        manifest = {**manifest, "timings": timings, "output": output}
        _write_lines(staging / MANIFEST, [json.dumps(manifest, ensure_ascii=False, indent=2)])
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write_documents(staging: Path, documents: Iterable[Document]) -> WriteStats:
    text_dir = staging / TEXT_DIR
    text_dir.mkdir()
    kept = chars = size = 0
    with open(staging / DOCS, "w", encoding="utf-8", errors=ENCODING_ERRORS, newline="\n") as docs:
        for doc in documents:
            record = doc.to_record()
            docs.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            if doc.status != "kept":
                continue
            path = text_dir / text_path(doc.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = (record["text"] + "\n").encode("utf-8", ENCODING_ERRORS)
            path.write_bytes(data)
            kept += 1
            chars += len(record["text"])
            size += len(data)
        docs.flush()
        os.fsync(docs.fileno())
    return WriteStats(kept, chars, size)


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8", errors=ENCODING_ERRORS, newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _swap_in(staging: Path, out: Path) -> None:
    if out.exists():
        previous = out.parent / f".{out.name}.cleaner-old-{os.getpid()}"
        out.rename(previous)
        staging.rename(out)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        staging.rename(out)


def text_path(doc_id: str) -> str:
    """Map a document id to a safe relative path under text/ (no `..`, no absolute paths).

    Each `/`-separated part keeps letters, digits and ` -_.~,+=@()`; anything else is %-escaped,
    and parts that would be `.`, `..` or empty are escaped whole, so distinct ids give distinct
    paths. A folder part never ends in `.txt` (its dot is escaped), so no id's folder can be
    another id's file (`a` and `a.txt/b`). Parts too long for a file name are cut and suffixed
    with a hash of the whole part.

    >>> text_path("news/2020/a b"), text_path("../../etc/passwd"), text_path("/abs")
    ('news/2020/a b.txt', '%2E%2E/%2E%2E/etc/passwd.txt', '%2F/abs.txt')
    >>> text_path("a"), text_path("a.txt/b")
    ('a.txt', 'a%2Etxt/b.txt')
    """
    parts = doc_id.split("/")
    escaped = [_escape_part(part) for part in parts]
    for index in range(len(escaped) - 1):
        if escaped[index].endswith(".txt"):
            escaped[index] = escaped[index][:-4] + "%2Etxt"
    return "/".join(escaped) + ".txt"


def _escape_part(part: str) -> str:
    escaped = "".join(ch if _is_safe(ch) else _percent(ch) for ch in part)
    if escaped in ("", ".", ".."):
        escaped = "".join(_percent(ch) for ch in part) or "%2F"
    if len(escaped.encode("utf-8")) > _MAX_SEGMENT:
        digest = hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        head = escaped.encode("utf-8")[: _MAX_SEGMENT - 17].decode("utf-8", "ignore")
        escaped = f"{head}~{digest}"
    return escaped


def _is_safe(ch: str) -> bool:
    return (ch.isalnum() and ch.isprintable()) or ch in " -_.~,+=@()"


def _percent(ch: str) -> str:
    return "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
