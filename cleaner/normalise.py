"""Normalise a document's text: repair encoding damage, tidy whitespace, find its paragraphs.

Every change is recorded as a `Fix` with an `NM` rule id, so a reader can tell why the normalised
text differs from the raw bytes. Curly quotes are left alone: ftfy's `uncurl_quotes` rewrites
almost every clean news article, and quotes are content, not damage.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
from ftfy import TextFixerConfig, chardata
from ftfy.badness import is_bad

from .document import PARAGRAPH_BREAK, Document, Fix, Reason, split_paragraphs

FTFY_CONFIG = TextFixerConfig(uncurl_quotes=False, explain=True)

# ftfy's step names, grouped into the rule ids the rest of cleaner reports.
_FTFY_RULES = {
    "unescape_html": ("NM002", "html-entities"),
    "remove_terminal_escapes": ("NM003", "control-characters"),
    "remove_control_chars": ("NM003", "control-characters"),
    "fix_surrogates": ("NM003", "control-characters"),
    "fix_latin_ligatures": ("NM004", "compatibility-characters"),
    "fix_character_width": ("NM004", "compatibility-characters"),
    "fix_line_breaks": ("NM006", "line-breaks"),
}
_MOJIBAKE = ("NM001", "mojibake")
_NFC = ("NM005", "unicode-nfc")



def _character_class(codepoints: set[int]) -> str:
    """Build a regex character class from code points, as ranges."""
    ranges: list[list[int]] = []
    for point in sorted(codepoints):
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges) + "]"


# Text with none of the characters ftfy acts on (from ftfy's own tables), no HTML entity and no
# mojibake (`is_bad`) has nothing for ftfy to fix, so it skips ftfy's slow path.
_FTFY_TRIGGER = re.compile(
    _character_class(
        set(chardata.LIGATURES)
        | set(chardata.WIDTH_MAP)
        | set(chardata.CONTROL_CHARS)
        | set(range(0x00, 0x09))
        | set(range(0x0B, 0x20))
        | set(range(0x7F, 0xA0))
        | {0x2028, 0x2029}
        | set(range(0xD800, 0xE000))
    )
    + "|&#?[A-Za-z0-9]+;"
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_ASCII = re.compile("[^\x00-\x7f]+")
# Every sequence ftfy's badness expression matches holds a non-ASCII character and spans at
# most 7 characters ("ГўВЂВ.x"), so it lies within this many characters of one.
_BADNESS_REACH = 8


def looks_bad(text: str) -> bool:
    """`ftfy.badness.is_bad(text)`, asked only of the stretches around non-ASCII characters.

    ftfy's expression takes ~3 ms over a 5 KB article; news is mostly ASCII with a few curly
    quotes or pound signs, so this asks it about a few short stretches instead (equal results,
    tested against `is_bad`).

    >>> looks_bad("The café opened in 1994 and cost £2m."), looks_bad("The cafÃ© opened in 1994.")
    (False, True)
    """
    if text.isascii():
        return False
    start = end = -1
    for found in _NON_ASCII.finditer(text):
        low, high = max(0, found.start() - _BADNESS_REACH), found.end() + _BADNESS_REACH
        if low <= end:
            end = high
            continue
        if end >= 0 and _bad_stretch(text, start, end):
            return True
        start, end = low, high
    return _bad_stretch(text, start, end)


def _bad_stretch(text: str, start: int, end: int) -> bool:
    # A stretch that does not open the text gets a NUL in front, which no part of the expression
    # matches, so that its "^" alternatives cannot match at the cut.
    return is_bad(text[start:end] if start == 0 else "\x00" + text[start:end])
# Zero-width characters go before ftfy looks at a text (they can hide mojibake from its
# heuristics); a soft hyphen only after, since U+00AD is what byte 0xAD of UTF-8 mojibake
# decodes to ("Ã\u00ad" is a mangled "í").
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_VERTICAL_SPACE = re.compile("[\x0b\x0c]")
_HORIZONTAL_RUN = re.compile("[ \t]{2,}|\t")
_MAX_PASSES = 4
_SENTENCE_END = tuple(".!?…:;\"'”’»)]")


def normalise(doc: Document) -> Document:
    """Normalise the text of a document in place and find its paragraphs."""
    if doc.status == "error":
        return doc
    text, fixes = normalise_text(doc.text)
    doc.text = text
    doc.fixes.extend(fixes)
    doc.paragraphs = list(split_paragraphs(text))
    if not text:
        doc.status = "error"
        doc.reason = Reason("normalise", None, "empty", "no text left after normalisation")
    return doc


def normalise_text(raw: str) -> tuple[str, list[Fix]]:
    """Return the normalised text and the fixes that made it.

    >>> normalise_text("Caf\\u00c3\\u00a9  au lait\\r\\nline two")[0]
    'Café au lait\\n\\nline two'
    """
    fixes: list[Fix] = []
    text = raw
    # One pass can expose more damage (removing a soft hyphen can complete a mojibake sequence),
    # so repeat until nothing changes; this keeps normalise idempotent. Clean text takes one pass.
    for _ in range(_MAX_PASSES):
        before = text
        text = _remove_invisible(text, fixes, _ZERO_WIDTH)
        text = _fix_with_ftfy(text, fixes)
        text = _remove_invisible(text, fixes)
        text = _tidy_layout(text, fixes)
        nfc = unicodedata.normalize("NFC", text)
        if nfc != text:
            fixes.append(Fix(*_NFC, "composed to NFC"))
            text = nfc
        if text == before:
            break
    return text, fixes


def _fix_with_ftfy(text: str, fixes: list[Fix]) -> str:
    if not (_FTFY_TRIGGER.search(text) or looks_bad(text)):
        return text
    fixed = ftfy.fix_and_explain(text, config=FTFY_CONFIG)
    grouped: dict[tuple[str, str], list[str]] = {}
    for action, parameter in fixed.explanation or []:
        if action == "apply" and parameter in _FTFY_RULES:
            key = _FTFY_RULES[parameter]
        elif action == "normalize":
            key = _NFC
        else:
            key = _MOJIBAKE
        grouped.setdefault(key, []).append(f"{action} {parameter}")
    fixes.extend(Fix(rule, name, ", ".join(steps)) for (rule, name), steps in grouped.items())
    return fixed.text


def _remove_invisible(text: str, fixes: list[Fix], invisible_characters: re.Pattern[str] = _INVISIBLE) -> str:
    text, surrogates = _LONE_SURROGATE.subn("\ufffd", text)
    if surrogates:
        fixes.append(Fix("NM003", "control-characters", f"replaced {surrogates} lone surrogate(s) with U+FFFD"))
    text, invisible = invisible_characters.subn("", text)
    if invisible:
        fixes.append(Fix("NM007", "invisible-characters", f"removed {invisible} zero-width or soft-hyphen character(s)"))
    return text


def _tidy_layout(text: str, fixes: list[Fix]) -> str:
    """Strip and collapse spaces per line, then join paragraphs with exactly one blank line."""
    raw_lines = _VERTICAL_SPACE.sub("\n", text).split("\n")
    lines = [_HORIZONTAL_RUN.sub(" ", line).strip() for line in raw_lines]
    changed = sum(1 for before, after in zip(raw_lines, lines) if before != after)
    blocks = _blocks(lines)
    per_line = _is_one_paragraph_per_line(blocks)
    if per_line:
        blocks = [[line] for block in blocks for line in block]
    tidy = PARAGRAPH_BREAK.join("\n".join(block) for block in blocks)
    if changed:
        fixes.append(Fix("NM008", "whitespace", f"stripped or collapsed spaces on {changed} line(s)"))
    if per_line and tidy.count(PARAGRAPH_BREAK) > text.count(PARAGRAPH_BREAK):
        fixes.append(Fix("NM009", "paragraph-layout", "one paragraph per line: separated paragraphs by a blank line"))
    elif not changed and tidy != text:
        fixes.append(Fix("NM008", "whitespace", "collapsed blank lines between paragraphs"))
    return tidy


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _is_one_paragraph_per_line(blocks: list[list[str]]) -> bool:
    """Tell a one-paragraph-per-line layout from blank-line paragraphs (maybe hard-wrapped).

    Single line breaks are paragraph breaks unless blank lines separate at least as many
    paragraphs, or most single breaks fall mid-sentence (hard-wrapped text).
    """
    single_breaks = [block[i] for block in blocks for i in range(len(block) - 1)]
    if not single_breaks:
        return False
    blank_breaks = len(blocks) - 1
    if blank_breaks == 0:
        return True
    if blank_breaks >= len(single_breaks):
        return False
    mid_sentence = sum(1 for line in single_breaks if not line.endswith(_SENTENCE_END))
    return mid_sentence * 2 <= len(single_breaks)
