"""Explain one `docs.jsonl` record: its normalised text with every removed span marked, and why.

The normalised text is rebuilt from the record alone (`rebuild_text`), so an explanation needs
nothing but the output folder. Removed spans are struck through in red on a terminal, or marked
`[-ID: text-]` in plain text; flagged spans (reported, kept) are underlined in yellow, or marked
`[!ID: text!]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .document import rebuild_text
from .errors import InputError
from .write import interrupted_run_note

RED_STRIKE = "\x1b[9;31m"
YELLOW_UNDERLINE = "\x1b[4;33m"
DIM = "\x1b[2m"
BOLD = "\x1b[1m"
RESET = "\x1b[0m"


def explanation_json(record: dict[str, Any]) -> dict[str, Any]:
    """Return the explanation as data: the normalised text and every span, in text order."""
    spans = [{"kind": "removed", **_span(span)} for span in record.get("removed", [])]
    spans += [{"kind": "flag", **_span(span)} for span in record.get("flags", [])]
    spans.sort(key=lambda span: (span["start"], span["end"], span["kind"]))
    return {
        "id": record["id"],
        "status": record["status"],
        "reason": record.get("reason"),
        "lang": record.get("lang"),
        "meta": record.get("meta", {}),
        "text": rebuild_text(record["text"], record.get("removed", [])),
        "spans": spans,
    }


def render_explanation(record: dict[str, Any], color: bool = False) -> str:
    """Render one record for a person: a header, the marked text, then each span and its reason."""
    explanation = explanation_json(record)
    parts = [_header(explanation, color), "", mark_spans(explanation, color), ""]
    parts += _span_list(explanation, color)
    return "\n".join(parts).rstrip("\n") + "\n"


def mark_spans(explanation: dict[str, Any], color: bool = False) -> str:
    """Return the normalised text with removed and flagged spans marked.

    Whitespace a removal took along stays outside the marker, so the layout still shows. A flag
    inside a removed span is listed, not marked again.

    >>> record = {"id": "a", "status": "kept", "text": "keep\\n\\nkeep", "removed": [
    ...     {"start": 6, "end": 12, "text": "cut!\\n\\n", "rule": "BP001", "name": "n", "detail": ""}]}
    >>> print(mark_spans(explanation_json(record)))
    keep
    <BLANKLINE>
    [-BP001: cut!-]
    <BLANKLINE>
    keep
    """
    text = explanation["text"]
    spans = _outermost(explanation["spans"])
    parts, position = [], 0
    for span in spans:
        parts.append(text[position : span["start"]])
        parts.append(_mark(text[span["start"] : span["end"]], span, color))
        position = span["end"]
    parts.append(text[position:])
    return "".join(parts)


def _span(span: dict[str, Any]) -> dict[str, Any]:
    return {key: span.get(key) for key in ("start", "end", "text", "stage", "rule", "name", "detail")}


def _outermost(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the spans to mark inline: removals first, then flags that overlap none of them."""
    chosen: list[dict[str, Any]] = []
    for kind in ("removed", "flag"):
        for span in spans:
            if span["kind"] != kind or span["start"] >= span["end"]:
                continue
            if all(span["end"] <= other["start"] or span["start"] >= other["end"] for other in chosen):
                chosen.append(span)
    return sorted(chosen, key=lambda span: span["start"])


def _mark(piece: str, span: dict[str, Any], color: bool) -> str:
    core = piece.strip()
    if not core:
        return piece
    lead = piece[: len(piece) - len(piece.lstrip())]
    trail = piece[len(piece.rstrip()) :]
    removed = span["kind"] == "removed"
    if color:
        style = RED_STRIKE if removed else YELLOW_UNDERLINE
        marked = f"{DIM}[{span['rule']}]{RESET}{style}{core}{RESET}"
    else:
        sign = "-" if removed else "!"
        marked = f"[{sign}{span['rule']}: {core}{sign}]"
    return f"{lead}{marked}{trail}"


def _header(explanation: dict[str, Any], color: bool) -> str:
    title = f"{BOLD}{explanation['id']}{RESET}" if color else explanation["id"]
    lines = [f"{title}  status: {explanation['status']}  lang: {explanation['lang'] or '-'}"]
    reason = explanation.get("reason")
    if reason:
        lines.append(f"reason: {reason.get('rule') or '-'} {reason.get('name')} ({reason.get('stage')}): {reason.get('detail')}")
    if explanation["meta"]:
        shown = ", ".join(f"{key}={value!r}" for key, value in explanation["meta"].items())
        lines.append(f"meta: {shown}")
    return "\n".join(lines)


def _span_list(explanation: dict[str, Any], color: bool) -> list[str]:
    lines = []
    for kind, heading in (("removed", "removed"), ("flag", "flagged")):
        spans = [span for span in explanation["spans"] if span["kind"] == kind]
        if not spans:
            continue
        lines.append(f"{heading} ({len(spans)}):")
        for span in spans:
            rule = f"{BOLD}{span['rule']}{RESET}" if color else span["rule"]
            excerpt = _clip(" ".join((span["text"] or "").split()))
            lines.append(f"  {span['start']}-{span['end']}  {rule} {span['name']} ({span['stage']}): {span['detail']}")
            lines.append(f"      {excerpt!r}")
    if not lines:
        lines.append("nothing removed or flagged")
    return lines


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def find_record(out: Path, doc_id: str) -> dict[str, Any]:
    """Return the `docs.jsonl` record of one document in an output folder."""
    docs = Path(out) / "docs.jsonl"
    if not docs.is_file():
        raise InputError(interrupted_run_note(Path(out)) or f"{out} has no docs.jsonl; pass an output folder written by `cleaner run`")
    with open(docs, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["id"] == doc_id:
                return record
    raise InputError(f"no document {doc_id!r} in {docs}; ids are listed in its `id` fields")
