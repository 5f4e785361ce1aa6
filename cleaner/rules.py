"""Apply declarative rules (`rules/*.toml`): remove, flag or extract lines and paragraphs, drop documents.

A rule is one TOML file, `<ID>-<name>.toml`, with the keys in `RULE_KEYS`. The built-in pack ships
inside the wheel as `cleaner.builtin_rules`; `load_ruleset(extra_dirs=...)` adds a user's folders,
whose rules add to or replace the built-ins by id.

How a rule matches:

- `scope = "line"` or `"paragraph"`: the pattern must match the WHOLE line or paragraph
  (`fullmatch`), so a rule for "Read more: ..." lines never fires on a sentence that merely
  contains "read more about". `scope = "document"`: the pattern is searched in the whole text
  (anchor it with `\\A`/`\\Z` to mean the whole document).
- `where = "head"` or `"tail"` with `within = N`: only the first or last N lines (paragraphs) are
  tried, counted among those still in the document when the rule runs and never past the middle
  of the document, so footers are only removed where they are footers.
- Rules run in id order (BP..., MD..., SM...); a line or paragraph that an earlier rule removed is
  not matched again, and a paragraph is not matched once any of its lines was removed.
- Every match runs under the `regex` module's `timeout`; a match that times out is reported as a
  `Flag` of that rule ("pattern timed out") and the rule is skipped for the rest of the document.

Actions: `remove` records a `Removal`; `flag` records a `Flag` and keeps the text; `extract` puts
the pattern's named groups into `doc.meta` (a key already there is kept) and removes the line;
`drop-document` drops the document with a `Reason`. An optional `previous` pattern also removes
the line (paragraph) just before a hit when it fully matches (the text of an embedded tweet, above
its attribution line).

Besides patterns there is one rule kind written in code, still enabled and ignored like any rule:
`kind = "repeated-title"` removes a head line (paragraph) that repeats an earlier one, or an
earlier one that is a label (a breadcrumb, a section name) glued before a later one.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import regex

from .document import Document, Flag, Reason, Removal
from .errors import ConfigError

STAGE = "rules"
MATCH_TIMEOUT = 0.25
"""Seconds one match may take at run time; far above any sane pattern on one line or paragraph."""

PROBE_TIMEOUT = 0.2
"""Seconds a pattern may take on each load-time probe string before it is refused."""

Scope = Literal["line", "paragraph", "document"]
Where = Literal["anywhere", "head", "tail"]
Action = Literal["remove", "flag", "extract", "drop-document"]

KINDS = ("pattern", "repeated-title")
SCOPES = ("line", "paragraph", "document")
WHERES = ("anywhere", "head", "tail")
ACTIONS = ("remove", "flag", "extract", "drop-document")
STATUSES = ("stable", "preview")
REGEX_FLAGS = {
    "ignorecase": regex.IGNORECASE,
    "multiline": regex.MULTILINE,
    "dotall": regex.DOTALL,
    "verbose": regex.VERBOSE,
}
RULE_KEYS = (
    "id", "name", "summary", "kind", "scope", "where", "within", "pattern", "flags", "requires",
    "previous", "action", "status", "examples",
)
REQUIRED_KEYS = ("id", "name", "summary", "scope", "where", "action", "status")
EXAMPLE_KEYS = ("hit", "ok", "text", "cleaned", "meta")

_ID = regex.compile(r"[A-Z]{2}[0-9]{3}")
_NAME = regex.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_QUANTIFIER = regex.compile(r"(?:[*+?]|\{(\d*)(,?)(\d*)\})([+?]?)")
_NESTING_LIMIT = 10
"""An outer `{n,m}` repetition counts as unbounded from this many repetitions on."""

# Load-time probes: long runs of the characters patterns usually repeat, each ending in a
# character that forces a failing match to backtrack. Catastrophic patterns blow up on some.
_PROBE_UNITS = ("a", "A", "1", " ", "a ", "aA1", "#a ", "a, ", "a / ", "a.", "-", "@a", "(a)", ": ")
_PROBE_LENGTH = 2000


@dataclass(frozen=True)
class Example:
    """One of a rule's own test cases: a unit it must act on (`hit`) or leave alone (`ok`).

    With `document=True` the text is a whole document and `cleaned` is what the rule alone
    leaves of it.
    """

    expect: Literal["hit", "ok"]
    text: str
    document: bool = False
    cleaned: str | None = None
    meta: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule, loaded and checked; `path` says where it came from, for messages."""

    id: str
    name: str
    summary: str
    kind: str
    scope: Scope
    where: Where
    within: int | None
    pattern: regex.Pattern | None
    flags: tuple[str, ...]
    previous: regex.Pattern | None
    action: Action
    status: str
    examples: tuple[Example, ...] = ()
    path: str = field(default="", compare=False)
    requires: tuple[str, ...] = ()

    def may_match(self, text: str) -> bool:
        """The cheap prefilter: False when the text holds none of the `requires` strings."""
        if not self.requires:
            return True
        folded = text.casefold()
        return any(literal in folded for literal in self.requires)

    def canonical(self) -> dict[str, Any]:
        """Return what decides this rule's output, for the rule set's digest."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "scope": self.scope,
            "where": self.where,
            "within": self.within,
            "pattern": self.pattern.pattern if self.pattern else None,
            "flags": list(self.flags),
            "previous": self.previous.pattern if self.previous else None,
            "action": self.action,
            "requires": list(self.requires),
        }


@dataclass(frozen=True)
class RuleSet:
    """The rules of a run, in id order; picklable, so it can be shipped to worker processes."""

    rules: tuple[Rule, ...]
    timeout: float = MATCH_TIMEOUT

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    @property
    def digest(self) -> str:
        """Return the sha256 of the rules' canonical content (and the timeout): same digest, same output."""
        content = {"timeout": self.timeout, "rules": [rule.canonical() for rule in self.rules]}
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def get(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


# --- loading -------------------------------------------------------------------------------


def load_ruleset(
    extra_dirs: Sequence[Path | str] = (),
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    *,
    preview: bool = False,
    builtin: bool = True,
    timeout: float = MATCH_TIMEOUT,
) -> RuleSet:
    """Load the built-in rules and the rules of `extra_dirs` (later folders win by id), then choose.

    `select` narrows to the rules whose id starts with one of its entries ("BP" or "BP001"),
    `ignore` removes rules the same way (ruff's semantics). Rules with `status = "preview"` run
    only with `preview=True` or when selected by their exact id.
    """
    rules: dict[str, Rule] = {}
    if builtin:
        rules.update((rule.id, rule) for rule in _builtin_rules())
    for folder in extra_dirs:
        rules.update((rule.id, rule) for rule in load_rules_dir(Path(folder)))
    chosen = choose_rules(sorted(rules.values(), key=lambda rule: rule.id), select, ignore, preview)
    return RuleSet(tuple(chosen), timeout)


@lru_cache(maxsize=1)
def _builtin_rules() -> tuple[Rule, ...]:
    """The built-in rules, loaded and checked once per process (they ship with the package)."""
    return tuple(load_rules_dir(builtin_rules_dir()))


def builtin_rules_dir() -> Traversable:
    """Return the folder of the built-in rules: the wheel's package, else the repository's rules/."""
    try:
        return resources.files("cleaner.builtin_rules")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "rules"


def load_rules_dir(folder: Traversable) -> list[Rule]:
    """Load every `*.toml` rule of one folder; other files (a README) are passed over."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: rules folder not found; pass a folder of <ID>-<name>.toml files")
    rules: dict[str, Rule] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml") or not entry.is_file():
            continue
        rule = parse_rule(entry.read_text(encoding="utf-8"), _describe(folder, entry))
        if rule.id in rules:
            raise ConfigError(
                f"{rule.path}: key 'id': {rule.id} is already used by {rules[rule.id].path}; "
                "rule ids are unique, give one of them a new id"
            )
        rules[rule.id] = rule
    return list(rules.values())


def _describe(folder: Traversable, entry: Traversable) -> str:
    return str(entry) if isinstance(entry, Path) else f"{folder}/{entry.name}"


# Finding codes that are not rule files: normalisation, language, dedup, unreadable input. They
# may be selected or ignored alongside rules (`--select BP,DD`) and simply match no rule.
OTHER_CODES = ("NM", "LG", "DD", "IN")


def choose_rules(rules: Sequence[Rule], select: Sequence[str], ignore: Sequence[str], preview: bool) -> list[Rule]:
    """Apply `select` and `ignore` (ids or id prefixes) and the preview gate to rules in id order."""
    for option, selectors in (("select", select), ("ignore", ignore)):
        for selector in selectors:
            if selector.upper().startswith(OTHER_CODES):
                continue
            if not any(rule.id.startswith(selector.upper()) for rule in rules):
                prefixes = ", ".join(sorted({rule.id[:2] for rule in rules} | set(OTHER_CODES)))
                raise ConfigError(
                    f"{option}: {selector!r} matches no rule; use a rule id or a prefix of one ({prefixes})"
                )
    exact = {selector.upper() for selector in select}
    chosen = []
    for rule in rules:
        if select and not any(rule.id.startswith(s.upper()) for s in select):
            continue
        if any(rule.id.startswith(s.upper()) for s in ignore):
            continue
        if rule.status == "preview" and not (preview or rule.id in exact):
            continue
        chosen.append(rule)
    return chosen


def parse_rule(source: str, path: str) -> Rule:
    """Check a rule's TOML strictly and build the `Rule`; every error names the file and the key."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}); fix the syntax") from error
    for key in data:
        if key not in RULE_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r}; a rule takes {', '.join(RULE_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ConfigError(f"{path}: missing key {key!r}; every rule needs {', '.join(REQUIRED_KEYS)}")
    rule_id = _string(data, "id", path)
    if not _ID.fullmatch(rule_id):
        raise ConfigError(f"{path}: key 'id': {rule_id!r} is not an id; use two capital letters and three digits, e.g. BP001")
    name = _string(data, "name", path)
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{path}: key 'name': {name!r} is not kebab-case; use lowercase words joined by '-'")
    file_name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if file_name != f"{rule_id}-{name}.toml":
        raise ConfigError(f"{path}: key 'id'/'name' say {rule_id}-{name}; rename the file to {rule_id}-{name}.toml")
    kind = _choice(data, "kind", KINDS, path, default="pattern")
    scope = _choice(data, "scope", SCOPES, path)
    where = _choice(data, "where", WHERES, path)
    action = _choice(data, "action", ACTIONS, path)
    status = _choice(data, "status", STATUSES, path)
    within = _within(data, where, path)
    flags = _flags(data, path)
    _check_combination(kind, scope, where, action, data, path)
    compile_flags = sum(REGEX_FLAGS[flag] for flag in flags)
    pattern = _pattern(data, "pattern", compile_flags, scope, path) if kind == "pattern" else None
    previous = _pattern(data, "previous", compile_flags, "line", path) if "previous" in data else None
    if pattern is not None and action == "extract" and not pattern.groupindex:
        raise ConfigError(f"{path}: key 'pattern' has no named group; an extract rule puts (?P<key>...) groups into meta")
    examples = _examples(data, action, path)
    requires = _requires(data, kind, scope, examples, path)
    return Rule(
        id=rule_id,
        name=name,
        summary=_string(data, "summary", path),
        kind=kind,
        scope=scope,
        where=where,
        within=within,
        pattern=pattern,
        flags=flags,
        previous=previous,
        action=action,
        status=status,
        examples=examples,
        path=path,
        requires=requires,
    )


def _requires(data: dict[str, Any], kind: str, scope: str, examples: tuple[Example, ...], path: str) -> tuple[str, ...]:
    """Strings of which a unit must hold one (case-insensitively) for the pattern to be tried;
    a prefilter for patterns that are slow on long lines. Every hit example must hold one."""
    value = data.get("requires", [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"{path}: key 'requires' must be a list of non-empty strings, not {value!r}")
    if value and (kind != "pattern" or scope == "document"):
        raise ConfigError(f"{path}: key 'requires' only goes with a pattern rule of scope line or paragraph")
    folded = tuple(item.casefold() for item in value)
    for example in examples:
        if folded and example.expect == "hit" and not example.document and not any(item in example.text.casefold() for item in folded):
            raise ConfigError(f"{path}: key 'requires': hit example {example.text!r} holds none of {value!r}")
    return folded


def _string(data: dict[str, Any], key: str, path: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: key {key!r} must be a non-empty string, not {value!r}")
    return value


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...], path: str, default: str | None = None) -> Any:
    value = data.get(key, default)
    if value not in choices:
        raise ConfigError(f"{path}: key {key!r} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _within(data: dict[str, Any], where: str, path: str) -> int | None:
    if where == "anywhere":
        if "within" in data:
            raise ConfigError(f"{path}: key 'within' only goes with where = \"head\" or \"tail\"; remove it")
        return None
    value = data.get("within")
    if type(value) is not int or value < 1:
        raise ConfigError(
            f"{path}: key 'within' must be a whole number of lines (paragraphs) of 1 or more "
            f"when where = {where!r}, not {value!r}"
        )
    return value


def _flags(data: dict[str, Any], path: str) -> tuple[str, ...]:
    value = data.get("flags", [])
    if not isinstance(value, list) or any(flag not in REGEX_FLAGS for flag in value):
        raise ConfigError(f"{path}: key 'flags' must be a list of {', '.join(REGEX_FLAGS)}, not {value!r}")
    return tuple(sorted(set(value)))


def _check_combination(kind: str, scope: str, where: str, action: str, data: dict[str, Any], path: str) -> None:
    if kind == "pattern" and "pattern" not in data:
        raise ConfigError(f"{path}: missing key 'pattern'; a pattern rule needs a regex")
    if kind != "pattern":
        for key in ("pattern", "flags", "previous"):
            if key in data:
                raise ConfigError(f"{path}: key {key!r} does not go with kind = {kind!r}; remove it")
        if scope == "document" or action not in ("remove", "flag"):
            raise ConfigError(f"{path}: key 'kind' = {kind!r} works on lines or paragraphs with action remove or flag")
    if scope == "document":
        if action not in ("flag", "drop-document"):
            raise ConfigError(f"{path}: key 'action': a document-scope rule can only flag or drop-document, not {action!r}")
        if where != "anywhere":
            raise ConfigError(f"{path}: key 'where': a document-scope rule looks at the whole text; use where = \"anywhere\"")
    if "previous" in data and (scope == "document" or action not in ("remove", "extract")):
        raise ConfigError(f"{path}: key 'previous' only goes with a line or paragraph rule that removes or extracts")


def _pattern(data: dict[str, Any], key: str, flags: int, scope: str, path: str) -> regex.Pattern:
    source = _string(data, key, path)
    try:
        pattern = regex.compile(source, flags)
    except regex.error as error:
        raise ConfigError(
            f"{path}: key {key!r} is not a valid regex ({error}); fix it "
            "(regex module syntax; TOML literal strings '...' keep backslashes as written)"
        ) from error
    nested = find_nested_quantifier(source, verbose=bool(flags & regex.VERBOSE))
    if nested:
        raise ConfigError(
            f"{path}: key {key!r} repeats a repetition, {nested!r}, which can backtrack catastrophically; "
            "bound the inner or the outer repetition, or make it possessive ('++', '*+') or atomic ('(?>...)')"
        )
    slow = find_slow_probe(pattern, scope)
    if slow:
        raise ConfigError(
            f"{path}: key {key!r} took over {PROBE_TIMEOUT}s on a {len(slow)}-character probe "
            f"({slow[:12]!r}...): it backtracks catastrophically; make the repetitions unambiguous"
        )
    return pattern


def _examples(data: dict[str, Any], action: str, path: str) -> tuple[Example, ...]:
    value = data.get("examples", [])
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ConfigError(f"{path}: key 'examples' must be an array of tables ([[examples]])")
    examples = []
    for number, entry in enumerate(value):
        where = f"{path}: key 'examples[{number}]'"
        for key, item in entry.items():
            if key not in EXAMPLE_KEYS:
                raise ConfigError(f"{where}: unknown key {key!r}; an example takes {', '.join(EXAMPLE_KEYS)}")
            if key != "meta" and not isinstance(item, str):
                raise ConfigError(f"{where}: key {key!r} must be a string, not {item!r}")
        given = [key for key in ("hit", "ok", "text") if key in entry]
        if len(given) != 1:
            raise ConfigError(f"{where}: give exactly one of hit, ok or text (with cleaned)")
        meta = entry.get("meta", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ConfigError(f"{where}: key 'meta' must be a table of strings")
        if meta and (action != "extract" or "ok" in entry):
            raise ConfigError(f"{where}: key 'meta' only goes with a hit or text example of an extract rule")
        if "text" in entry:
            if "cleaned" not in entry:
                raise ConfigError(f"{where}: a text example needs cleaned = the text the rule leaves")
            expect = "ok" if entry["cleaned"] == entry["text"] else "hit"
            examples.append(Example(expect, entry["text"], True, entry["cleaned"], tuple(sorted(meta.items()))))
        else:
            if "cleaned" in entry:
                raise ConfigError(f"{where}: key 'cleaned' only goes with a text example")
            kind = given[0]
            examples.append(Example(kind, entry[kind], meta=tuple(sorted(meta.items()))))
    return tuple(examples)


def find_nested_quantifier(pattern: str, verbose: bool = False) -> str | None:
    """Return the first group that repeats an unbounded repetition (`(a+)+`), or None.

    A heuristic for catastrophic backtracking: an outer `*`, `+`, `{n,}` or `{n,m}` with m >= 10
    around a group that holds an unbounded repetition. Possessive and atomic forms are safe.

    >>> find_nested_quantifier(r"(\\w+\\s?)+$"), find_nested_quantifier(r"(?:#\\w++\\s*+)+")
    ('(\\\\w+\\\\s?)+', None)
    >>> find_nested_quantifier(r"(?:[/>] [^/>]+){1,8}"), find_nested_quantifier(r"(.*)*")
    (None, '(.*)*')
    """
    verbose = verbose or pattern.startswith("(?x)")
    # Each open group: [start, holds an unbounded repetition, is atomic].
    stack: list[list[Any]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _skip_class(pattern, index)
            continue
        if verbose and char == "#":
            newline = pattern.find("\n", index)
            index = len(pattern) if newline < 0 else newline
            continue
        if char == "(":
            if pattern.startswith("(?#", index):
                index = pattern.find(")", index) + 1 or len(pattern)
                continue
            stack.append([index, False, pattern.startswith("(?>", index)])
            index += 1
            continue
        if char == ")" and stack:
            start, inner, atomic = stack.pop()
            repeat = _QUANTIFIER.match(pattern, index + 1)
            end = repeat.end() if repeat else index + 1
            outer = _repeats(repeat, _NESTING_LIMIT)
            if inner and outer and not atomic:
                return pattern[start:end]
            if stack and not atomic and (inner or _repeats(repeat, None)):
                stack[-1][1] = True
            index = end
            continue
        if char in "*+{" and stack:
            repeat = _QUANTIFIER.match(pattern, index)
            if repeat:
                if _repeats(repeat, None):
                    stack[-1][1] = True
                index = repeat.end()
                continue
        index += 1
    return None


def _repeats(quantifier: regex.Match | None, limit: int | None) -> bool:
    """Tell whether a (non-possessive) quantifier repeats without bound, or at least `limit` times."""
    if quantifier is None or quantifier.group(4) == "+":
        return False
    text = quantifier.group(0)
    if text[0] in "*+":
        return True
    if text[0] != "{":
        return False
    low, comma, high = quantifier.group(1), quantifier.group(2), quantifier.group(3)
    if comma and not high:
        return True
    return limit is not None and int(high or low or 0) >= limit


def _skip_class(pattern: str, index: int) -> int:
    """Return the index just after the character class that starts at `index`."""
    position = index + 1
    if position < len(pattern) and pattern[position] == "^":
        position += 1
    if position < len(pattern) and pattern[position] == "]":
        position += 1
    depth = 1
    while position < len(pattern) and depth:
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        position += 1
    return position


def find_slow_probe(pattern: regex.Pattern, scope: str) -> str | None:
    """Return a probe text on which the pattern times out (catastrophic backtracking), or None."""
    method = pattern.search if scope == "document" else pattern.fullmatch
    for unit in _PROBE_UNITS:
        probe = unit * (_PROBE_LENGTH // len(unit)) + "!\u00a0"
        try:
            method(probe, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            return probe
    return None


# --- applying ------------------------------------------------------------------------------


def apply_rules(doc: Document, ruleset: RuleSet) -> Document:
    """Apply every rule of the set, in id order, to a kept document; a drop stops the rules."""
    if doc.status != "kept":
        return doc
    units: dict[str, list[tuple[int, int]]] = {}  # rules remove spans but never move text
    for rule in ruleset.rules:
        apply_rule(doc, rule, ruleset.timeout, units)
        if doc.status != "kept":
            break
    return doc


def apply_rule(
    doc: Document, rule: Rule, timeout: float = MATCH_TIMEOUT, units: dict[str, list[tuple[int, int]]] | None = None
) -> Document:
    """Apply one rule to a document and record what it did. `units` keeps the document's line
    and paragraph spans from one rule to the next."""
    if rule.kind == "repeated-title":
        remove_repeated_titles(doc, rule, units)
    elif rule.scope == "document":
        _apply_to_document(doc, rule, timeout)
    else:
        _apply_to_units(doc, rule, timeout, units)
    return doc


def _apply_to_document(doc: Document, rule: Rule, timeout: float) -> None:
    assert rule.pattern is not None
    try:
        match = rule.pattern.search(doc.text, timeout=timeout)
    except TimeoutError:
        _report_timeout(doc, rule, 0, len(doc.text), timeout)
        return
    if match is None:
        return
    if rule.action == "drop-document":
        doc.drop(Reason(STAGE, rule.id, rule.name, f"{rule.summary}: matched {_clip(match.group())!r}"))
    else:
        doc.flags.append(Flag(match.start(), match.end(), STAGE, rule.id, rule.name, rule.summary))


def _apply_to_units(doc: Document, rule: Rule, timeout: float, known: dict[str, list[tuple[int, int]]] | None = None) -> None:
    assert rule.pattern is not None
    units = _scope_units(doc, rule.scope, known)
    for position in _candidates(doc, units, rule):
        start, end = units[position]
        unit = doc.text[start:end]
        if not rule.may_match(unit):
            continue
        try:
            match = rule.pattern.fullmatch(unit, timeout=timeout)
        except TimeoutError:
            _report_timeout(doc, rule, start, end, timeout)
            return
        if match is None:
            continue
        _act(doc, rule, match, start, end)
        if doc.status != "kept":
            return
        if rule.previous is not None and position > 0:
            _remove_previous(doc, rule, units[position - 1], timeout)


def _scope_units(doc: Document, scope: str, known: dict[str, list[tuple[int, int]]] | None) -> list[tuple[int, int]]:
    """The spans of a scope's units, from `known` when it holds them (kept there when given)."""
    if known is None:
        return list(_units(doc, scope))
    if scope not in known:
        known[scope] = list(_units(doc, scope))
    return known[scope]


def _units(doc: Document, scope: str) -> Iterator[tuple[int, int]]:
    if scope == "line":
        for _, start, end in doc.lines():
            yield start, end
    else:
        yield from doc.paragraphs


def _candidates(doc: Document, units: list[tuple[int, int]], rule: Rule, halve: bool = True) -> list[int]:
    """Return the positions of the units the rule may try: not removed, and within its head or tail.

    A head or tail never reaches past the middle of the document (unless `halve` is off), so in a
    short text a footer rule does not reach the first lines, nor a header rule the last ones.
    """
    live = [position for position, (start, end) in enumerate(units) if not _overlaps_removal(doc, start, end)]
    half = (len(live) + 1) // 2 if halve else len(live)
    if rule.where == "head" and rule.within:
        return live[: min(rule.within, half)]
    if rule.where == "tail" and rule.within:
        return live[max(len(live) - rule.within, len(live) - half) :]
    return live


def _overlaps_removal(doc: Document, start: int, end: int) -> bool:
    return any(removal.start < end and start < removal.end for removal in doc.removed)


def _act(doc: Document, rule: Rule, match: regex.Match, start: int, end: int) -> None:
    if rule.action == "remove":
        doc.remove(Removal(start, end, STAGE, rule.id, rule.name, rule.summary))
    elif rule.action == "flag":
        doc.flags.append(Flag(start, end, STAGE, rule.id, rule.name, rule.summary))
    elif rule.action == "extract":
        doc.remove(Removal(start, end, STAGE, rule.id, rule.name, extract_meta(doc, match)))
    else:
        doc.drop(Reason(STAGE, rule.id, rule.name, f"{rule.summary}: matched {_clip(match.group())!r}"))


def extract_meta(doc: Document, match: regex.Match) -> str:
    """Put a match's named groups into `doc.meta` (values already there win); describe what was done.

    Groups whose names start with "_" are helpers (a `(?(DEFINE)...)` part), never meta.
    """
    parts = []
    for key, value in sorted(match.groupdict().items()):
        if key.startswith("_") or value is None or not value.strip():
            continue
        value = value.strip()
        if key in doc.meta and doc.meta[key] != value:
            parts.append(f"{key}={value!r} (kept {doc.meta[key]!r})")
            continue
        doc.meta[key] = value
        parts.append(f"{key}={value!r}")
    return "extracted " + ", ".join(parts) if parts else "extracted nothing"


def _remove_previous(doc: Document, rule: Rule, unit: tuple[int, int], timeout: float) -> None:
    assert rule.previous is not None
    start, end = unit
    if _overlaps_removal(doc, start, end):
        return
    try:
        match = rule.previous.fullmatch(doc.text[start:end], timeout=timeout)
    except TimeoutError:
        _report_timeout(doc, rule, start, end, timeout)
        return
    if match:
        doc.remove(Removal(start, end, STAGE, rule.id, rule.name, f"{rule.scope} before a match: {rule.summary}"))


def _report_timeout(doc: Document, rule: Rule, start: int, end: int, timeout: float) -> None:
    detail = f"pattern timed out after {timeout}s; {rule.id} skipped for the rest of this document"
    doc.flags.append(Flag(start, end, STAGE, rule.id, rule.name, detail))


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- built-in rule kinds -------------------------------------------------------------------

_TITLE_SEPARATORS = "/>|:-–—›»·•"
_TITLE_MIN_CHARS = 12
_TITLE_MAX_CHARS = 300


def remove_repeated_titles(doc: Document, rule: Rule, known: dict[str, list[tuple[int, int]]] | None = None) -> Document:
    """Remove head units that repeat the title: an exact repeat, or the title with a label before it.

    Among the rule's head units, a unit equal to an earlier one (ignoring case, spacing and end
    punctuation) goes; an earlier unit that ends with a later one after a separator
    ("Home / news / Title" before "Title") goes too, since the later one is the clean title.
    Units shorter than 12 or longer than 300 characters are not titles.
    """
    units = _scope_units(doc, rule.scope, known)
    positions = _candidates(doc, units, rule, halve=False)
    keys = {position: title_key(doc.text[slice(*units[position])]) for position in positions}
    titles = [p for p in positions if _TITLE_MIN_CHARS <= len(keys[p]) <= _TITLE_MAX_CHARS]
    for later_index, later in enumerate(titles):
        for earlier in titles[:later_index]:
            if keys[earlier] == keys[later]:
                _record_title(doc, rule, units[later], f"repeats the title in {rule.scope} {earlier + 1}")
                break
            if _ends_with_title(keys[earlier], keys[later]):
                _record_title(doc, rule, units[earlier], f"a label before the title repeated in {rule.scope} {later + 1}")
                break
    return doc


def title_key(text: str) -> str:
    """Return the form titles are compared in: casefolded, single-spaced, without end punctuation.

    >>> title_key("  Karabakh   battles …  ")
    'karabakh battles'
    """
    return " ".join(text.casefold().split()).rstrip(" .…!?:;")


def _ends_with_title(earlier: str, title: str) -> bool:
    if len(earlier) <= len(title) or not earlier.endswith(title):
        return False
    label = earlier[: -len(title)].rstrip()
    return bool(label) and label[-1] in _TITLE_SEPARATORS


def _record_title(doc: Document, rule: Rule, unit: tuple[int, int], detail: str) -> None:
    start, end = unit
    if _overlaps_removal(doc, start, end):
        return
    if rule.action == "flag":
        doc.flags.append(Flag(start, end, STAGE, rule.id, rule.name, detail))
    else:
        doc.remove(Removal(start, end, STAGE, rule.id, rule.name, detail))


def describe_rule(rule: Rule) -> str:
    """Render one rule for `cleaner rules show`: what it is, where it acts, its pattern and examples."""
    where = rule.where if rule.within is None else f"{rule.where} (within {rule.within})"
    lines = [
        f"{rule.id} {rule.name}",
        f"  {rule.summary}",
        "",
        f"  file:    {rule.path}",
        f"  kind:    {rule.kind}",
        f"  scope:   {rule.scope}",
        f"  where:   {where}",
        f"  action:  {rule.action}",
        f"  status:  {rule.status}",
    ]
    if rule.flags:
        lines.append(f"  flags:   {', '.join(rule.flags)}")
    if rule.pattern is not None:
        lines += ["  pattern:", *(f"    {line}" for line in rule.pattern.pattern.strip("\n").splitlines())]
    if rule.previous is not None:
        lines.append(f"  previous: {rule.previous.pattern.strip()}")
    if rule.examples:
        lines.append("  examples:")
        for example in rule.examples:
            text = example.text.replace("\n", "\\n")
            lines.append(f"    {example.expect:<3}  {text}")
    return "\n".join(lines) + "\n"
