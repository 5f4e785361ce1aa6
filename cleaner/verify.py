"""Check the invariants of an output folder, whoever or whatever wrote it.

`verify_output(out)` reads OUT as a consumer would and returns every broken promise of the
output contract as a message that names the file, the line and what is wrong: the manifest and
its counts, one valid record per document in id order, provenance that rebuilds the normalised
text exactly, a text file for each kept document and none for the others, clusters that point
at real documents, and the input digest. An empty list means the folder keeps the contract.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

from .document import rebuild_text, split_paragraphs
from .errors import OutputError
from .write import CLUSTERS, DOCS, ENCODING_ERRORS, MANIFEST, TEXT_DIR, interrupted_run_note, text_path

STATUSES = ("kept", "dropped", "error")
LEVELS = ("document", "paragraph")
MEASURES = ("jaccard", "containment")
# Problems of one kind reported before the rest are only counted, so a badly broken folder
# gives a readable list.
MAX_PER_CHECK = 20

Record = dict[str, Any]
Line = tuple[int, Record]

_DOC_FIELDS = {
    "id": str,
    "source": dict,
    "status": str,
    "reason": (dict, type(None)),
    "text": str,
    "lang": (str, type(None)),
    "meta": dict,
    "fixes": list,
    "removed": list,
    "flags": list,
    "stats": dict,
}
_SOURCE_FIELDS = {"path": str, "format": str, "sha256": str, "size": int, "record": (int, type(None))}
_REASON_FIELDS = {"stage": str, "rule": (str, type(None)), "name": str, "detail": str}
_SPAN_FIELDS = {"start": int, "end": int, "text": str, "stage": str, "rule": str, "name": str, "detail": str}
_FIX_FIELDS = {"rule": str, "name": str, "detail": str}
_STATS_FIELDS = {"chars": int, "chars_kept": int, "paragraphs": int, "paragraphs_kept": int}
_CLUSTER_FIELDS = {"cluster": str, "level": str, "size": int, "canonical": dict, "members": list}
_MEMBER_FIELDS = {"doc": str, "similarity": (int, float), "measure": str, "text": str}


def verify_output(out: Path) -> list[str]:
    """Return the problems found in an output folder written by `cleaner run`; empty means OK.

    Raises OutputError when `out` is not a folder at all.
    """
    out = Path(out)
    if not out.is_dir():
        note = interrupted_run_note(out)
        raise OutputError(note or f"{str(out)!r} is not a folder; pass the OUT folder of a `cleaner run`")
    problems: list[str] = []
    manifest = _read_manifest(out, problems)
    docs = _read_jsonl(out / DOCS, problems)
    clusters = _read_jsonl(out / CLUSTERS, problems)
    checks: list[Callable[[], Iterator[str]]] = [
        lambda: check_records(docs),
        lambda: check_ids(docs),
        lambda: check_provenance(docs),
        lambda: check_text_files(out, docs),
        lambda: check_clusters(clusters, docs),
    ]
    if manifest is not None:
        checks += [lambda: check_manifest_counts(manifest, docs, clusters), lambda: check_digest(manifest, docs)]
    for check in checks:
        problems.extend(_capped(check()))
    return problems


def _capped(found: Iterator[str]) -> list[str]:
    problems = []
    more = 0
    for problem in found:
        if len(problems) < MAX_PER_CHECK:
            problems.append(problem)
        else:
            more += 1
    if more:
        problems.append(f"... and {more:,} more problem(s) like the last one")
    return problems


def _read_manifest(out: Path, problems: list[str]) -> Record | None:
    try:
        manifest = _strict_json((out / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        problems.append(f"{MANIFEST}: missing (a run writes it last; without it OUT is incomplete)")
        return None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        problems.append(f"{MANIFEST}: cannot be read as UTF-8 JSON: {error}")
        return None
    if not isinstance(manifest, dict) or manifest.get("tool") != "cleaner":
        problems.append(f'{MANIFEST}: not written by cleaner (no "tool": "cleaner")')
        return None
    return manifest


def _read_jsonl(path: Path, problems: list[str]) -> list[Line]:
    """Return (line number, object) for each line; report lines that are not UTF-8 JSON objects."""
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.append(f"{path.name}: cannot be read: {error.strerror or error}")
        return []
    if data and not data.endswith(b"\n"):
        problems.append(f"{path.name}: the last line has no newline (the file may be cut short)")
    records: list[Line] = []
    bad: list[str] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            value = _strict_json(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            bad.append(f"{path.name}:{number}: not UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1})")
            continue
        except ValueError as error:
            bad.append(f"{path.name}:{number}: not valid JSON: {error}")
            continue
        if not isinstance(value, dict):
            bad.append(f"{path.name}:{number}: a JSON {type(value).__name__}, not an object")
            continue
        records.append((number, value))
    problems.extend(_capped(iter(bad)))
    return records


def _strict_json(text: str) -> Any:
    """Parse JSON as other readers would: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    return json.loads(text, parse_constant=refuse)


def _field_problems(where: str, value: Any, fields: dict[str, Any]) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{where}: must be an object, not {type(value).__name__}"
        return
    for name, kind in fields.items():
        if name not in value:
            yield f"{where}: field {name!r} is missing"
        elif not isinstance(value[name], kind) or isinstance(value[name], bool):
            yield f"{where}: field {name!r} has the wrong type ({type(value[name]).__name__})"


def check_records(docs: list[Line]) -> Iterator[str]:
    """Every record has the contract's fields with their types, and a consistent status."""
    for number, doc in docs:
        where = f"{DOCS}:{number}"
        problems = list(_field_problems(where, doc, _DOC_FIELDS))
        unknown = sorted(set(doc) - set(_DOC_FIELDS))
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        if problems:
            yield from problems
            continue
        yield from _field_problems(f"{where}: source", doc["source"], _SOURCE_FIELDS)
        yield from _field_problems(f"{where}: stats", doc["stats"], _STATS_FIELDS)
        for index, fix in enumerate(doc["fixes"]):
            yield from _field_problems(f"{where}: fixes[{index}]", fix, _FIX_FIELDS)
        for name in ("removed", "flags"):
            for index, span in enumerate(doc[name]):
                yield from _field_problems(f"{where}: {name}[{index}]", span, _SPAN_FIELDS)
        if doc["status"] not in STATUSES:
            yield f"{where}: status {doc['status']!r} is not one of {', '.join(STATUSES)}"
        elif doc["status"] == "kept" and doc["reason"] is not None:
            yield f"{where}: status 'kept' but a reason"
        elif doc["status"] != "kept":
            if doc["reason"] is None:
                yield f"{where}: status {doc['status']!r} but no reason"
            else:
                yield from _field_problems(f"{where}: reason", doc["reason"], _REASON_FIELDS)


def _well_formed(docs: list[Line]) -> Iterator[Line]:
    """The records whose fields check_records found usable (so other checks can trust them)."""
    for number, doc in docs:
        if not any(True for _ in check_records([(number, doc)])):
            yield number, doc


def check_ids(docs: list[Line]) -> Iterator[str]:
    """Ids are unique and in sorted order (the order of docs.jsonl is part of the contract)."""
    previous: str | None = None
    seen: dict[str, int] = {}
    for number, doc in docs:
        doc_id = doc.get("id")
        if not isinstance(doc_id, str):
            continue
        if not doc_id:
            yield f"{DOCS}:{number}: the id is empty"
        if doc_id in seen:
            yield f"{DOCS}:{number}: id {doc_id!r} is repeated (first on line {seen[doc_id]})"
        elif previous is not None and doc_id < previous:
            yield f"{DOCS}:{number}: id {doc_id!r} comes after {previous!r}; records must be in id order"
        seen.setdefault(doc_id, number)
        previous = doc_id


def check_provenance(docs: list[Line]) -> Iterator[str]:
    """`text` + `removed` rebuild the normalised text, every span matching its place in it."""
    for number, doc in _well_formed(docs):
        where = f"{DOCS}:{number} ({doc['id']})"
        spans = doc["removed"]
        disorder = list(_span_order_problems(where, spans))
        if disorder:
            yield from disorder
            continue
        rebuilt = rebuild_text(doc["text"], spans)
        for index, span in enumerate(spans):
            if span["end"] > len(rebuilt) or rebuilt[span["start"] : span["end"]] != span["text"]:
                yield f"{where}: removed[{index}] ({span['rule']}) does not match the rebuilt text at {span['start']}-{span['end']}"
        for index, flag in enumerate(doc["flags"]):
            if not 0 <= flag["start"] <= flag["end"] <= len(rebuilt) or rebuilt[flag["start"] : flag["end"]] != flag["text"]:
                yield f"{where}: flags[{index}] ({flag['rule']}) does not match the rebuilt text at {flag['start']}-{flag['end']}"
        stats = doc["stats"]
        expected = {
            "chars": len(rebuilt),
            "chars_kept": len(doc["text"]),
            "paragraphs": sum(1 for _ in split_paragraphs(rebuilt)),
            "paragraphs_kept": sum(1 for _ in split_paragraphs(doc["text"])),
        }
        for name, value in expected.items():
            if stats[name] != value:
                yield f"{where}: stats.{name} is {stats[name]}, the text gives {value}"


def _span_order_problems(where: str, spans: list[Record]) -> Iterator[str]:
    end = 0
    for index, span in enumerate(spans):
        if span["start"] >= span["end"]:
            yield f"{where}: removed[{index}] is empty or reversed ({span['start']}-{span['end']})"
        elif span["start"] < end:
            yield f"{where}: removed[{index}] ({span['start']}-{span['end']}) overlaps or precedes the span before it"
        elif len(span["text"]) != span["end"] - span["start"]:
            yield f"{where}: removed[{index}] holds {len(span['text'])} characters for a span of {span['end'] - span['start']}"
        end = max(end, span["end"])


def check_text_files(out: Path, docs: list[Line]) -> Iterator[str]:
    """Each kept document has text/<id>.txt holding its text and a newline; nothing else is there."""
    text_dir = out / TEXT_DIR
    if not text_dir.is_dir():
        yield f"{TEXT_DIR}/: missing"
        return
    expected: dict[str, Record] = {}
    for number, doc in _well_formed(docs):
        path = text_path(doc["id"])
        if doc["status"] != "kept":
            continue
        expected[path] = doc
        try:
            data = (text_dir / path).read_bytes()
        except OSError:
            yield f"{TEXT_DIR}/{path}: missing for kept document {doc['id']!r} ({DOCS}:{number})"
            continue
        if data != (doc["text"] + "\n").encode("utf-8", ENCODING_ERRORS):
            yield f"{TEXT_DIR}/{path}: differs from the text of {doc['id']!r} in {DOCS}:{number} (plus a newline)"
    for path in sorted(p for p in text_dir.rglob("*") if not p.is_dir()):
        relative = path.relative_to(text_dir).as_posix()
        if relative not in expected:
            yield f"{TEXT_DIR}/{relative}: no kept document has this text file"


def check_clusters(clusters: list[Line], docs: list[Line]) -> Iterator[str]:
    """Every cluster is well formed and names documents (and paragraphs) that exist."""
    paragraphs = {doc["id"]: doc["stats"]["paragraphs"] for _, doc in _well_formed(docs)}
    seen: set[str] = set()
    for number, cluster in clusters:
        where = f"{CLUSTERS}:{number}"
        problems = list(_field_problems(where, cluster, _CLUSTER_FIELDS))
        if problems:
            yield from problems
            continue
        if cluster["cluster"] in seen:
            yield f"{where}: cluster id {cluster['cluster']!r} is repeated"
        seen.add(cluster["cluster"])
        if cluster["level"] not in LEVELS:
            yield f"{where}: level {cluster['level']!r} is not one of {', '.join(LEVELS)}"
            continue
        if cluster["size"] != 1 + len(cluster["members"]):
            yield f"{where}: size {cluster['size']} but {len(cluster['members'])} member(s) besides the kept copy"
        if not cluster["canonical"].get("stored"):  # a kept copy from a persistent index is not in this run
            yield from _item_problems(f"{where}: canonical", cluster["canonical"], cluster["level"], paragraphs)
        for index, member in enumerate(cluster["members"]):
            member_where = f"{where}: members[{index}]"
            yield from _field_problems(member_where, member, _MEMBER_FIELDS)
            if isinstance(member, dict):
                yield from _item_problems(member_where, member, cluster["level"], paragraphs)
                if member.get("measure") not in MEASURES:
                    yield f"{member_where}: measure {member.get('measure')!r} is not one of {', '.join(MEASURES)}"
        if cluster["level"] == "paragraph":
            named = sorted({cluster["canonical"].get("doc"), *(m.get("doc") for m in cluster["members"] if isinstance(m, dict))}, key=str)
            if cluster.get("documents") != named:
                yield f"{where}: documents {cluster.get('documents')!r} are not the documents of its copies {named!r}"


def _item_problems(where: str, item: Record, level: str, paragraphs: dict[str, int]) -> Iterator[str]:
    doc_id = item.get("doc")
    if doc_id not in paragraphs:
        yield f"{where}: document {doc_id!r} is not in {DOCS}"
    elif level == "paragraph":
        index = item.get("paragraph")
        if not isinstance(index, int) or not 0 <= index < paragraphs[doc_id]:
            yield f"{where}: paragraph {index!r} of {doc_id!r} does not exist (it has {paragraphs[doc_id]})"


def check_manifest_counts(manifest: Record, docs: list[Line], clusters: list[Line]) -> Iterator[str]:
    """The manifest's counts agree with docs.jsonl, the text files and clusters.jsonl."""
    records = [doc for _, doc in _well_formed(docs)]
    statuses = Counter(doc["status"] for doc in records)
    expected: dict[str, Any] = {
        "counts": {status: statuses[status] for status in STATUSES},
        "inputs.documents": len(docs),
        "errors": [doc["id"] for doc in records if doc["status"] == "error"],
        "clusters": {level: sum(1 for _, c in clusters if c.get("level") == level) for level in LEVELS},
        "dropped": dict(sorted(Counter(d["reason"]["rule"] or d["reason"]["name"] for d in records if d["status"] == "dropped").items())),
        "removed.spans": dict(sorted(Counter(span["rule"] for doc in records for span in doc["removed"]).items())),
        "fixes": dict(sorted(Counter(rule for doc in records for rule in {fix["rule"] for fix in doc["fixes"]}).items())),
    }
    kept = [doc for doc in records if doc["status"] == "kept"]
    expected["output"] = {
        "documents": len(kept),
        "chars": sum(len(doc["text"]) for doc in kept),
        "bytes": sum(len((doc["text"] + "\n").encode("utf-8", ENCODING_ERRORS)) for doc in kept),
    }
    found = {
        "counts": manifest.get("counts"),
        "inputs.documents": (manifest.get("inputs") or {}).get("documents"),
        "errors": [e.get("id") for e in manifest.get("errors") or [] if isinstance(e, dict)],
        "clusters": manifest.get("clusters"),
        "dropped": manifest.get("dropped"),
        "removed.spans": {rule: entry.get("spans") for rule, entry in (manifest.get("removed") or {}).items() if isinstance(entry, dict)},
        "fixes": manifest.get("fixes"),
        "output": manifest.get("output"),
    }
    for key, value in expected.items():
        if found[key] != value:
            yield f"{MANIFEST}: {key} is {found[key]!r}, but the output holds {value!r}"


def check_digest(manifest: Record, docs: list[Line]) -> Iterator[str]:
    """inputs.digest is the sha256 of every document's id and source hash, in id order."""
    digest = input_digest((doc["id"], doc["source"]["sha256"]) for _, doc in _well_formed(docs))
    recorded = (manifest.get("inputs") or {}).get("digest")
    if recorded != digest:
        yield f"{MANIFEST}: inputs.digest is {recorded!r}, but the documents in {DOCS} give {digest!r}"


def input_digest(sources: Iterator[tuple[str, str]]) -> str:
    """Hash (id, source sha256) pairs as the manifest's inputs.digest does."""
    digest = hashlib.sha256()
    for doc_id, sha256 in sources:
        digest.update(f"{doc_id}\t{sha256}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
