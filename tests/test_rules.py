from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.document import Document, Source, rebuild_text
from cleaner.errors import ConfigError
from cleaner.normalise import normalise
from cleaner.rules import (
    Example,
    Rule,
    RuleSet,
    apply_rule,
    apply_rules,
    builtin_rules_dir,
    load_rules_dir,
    load_ruleset,
    parse_rule,
)

REPO = Path(__file__).resolve().parent.parent
SOURCE = Source("a.txt", "txt", "0" * 64, 0)
BUILTIN = load_ruleset()

# Neutral news paragraphs an example is placed among: no rule may touch them.
FILLER = [
    "The ministry said on Tuesday that talks would resume next week in Geneva.",
    "Officials from both sides met for three hours but did not agree on a date.",
    "Residents said the situation in the town had been calm since the weekend.",
]


def make(text: str, meta: dict | None = None) -> Document:
    doc = Document(id="a", source=SOURCE, text=text, meta=dict(meta or {}))
    return normalise(doc)


def example_document(rule: Rule, example: Example) -> Document:
    """Place an example where its rule looks: first for head rules, last for tail rules, else inside."""
    if example.document or rule.scope == "document":
        return make(example.text)
    if rule.where == "head" or rule.previous is not None:
        # A rule with `previous` also takes the line above a hit: its text examples test that.
        paragraphs = [example.text, *FILLER]
    elif rule.where == "tail":
        paragraphs = [*FILLER, example.text]
    else:
        paragraphs = [FILLER[0], example.text, *FILLER[1:]]
    return make("\n\n".join(paragraphs))


def rule_examples() -> list:
    return [
        pytest.param(rule, example, id=f"{rule.id}-{rule.name}-{example.expect}-{number}")
        for rule in BUILTIN.rules
        for number, example in enumerate(rule.examples)
    ]


@pytest.mark.parametrize("rule, example", rule_examples())
def test_rule_example(rule: Rule, example: Example):
    doc = example_document(rule, example)
    before = doc.text
    apply_rule(doc, rule)
    mine = [r for r in doc.removed if r.rule == rule.id]
    flags = [f for f in doc.flags if f.rule == rule.id]
    if example.document:
        assert doc.cleaned_text() == example.cleaned
        assert dict(example.meta).items() <= doc.meta.items()
        return
    if example.expect == "ok":
        assert (mine, flags, doc.status, doc.meta) == ([], [], "kept", {})
        assert doc.cleaned_text() == before
        return
    if rule.action == "drop-document":
        assert doc.status == "dropped" and doc.reason is not None and doc.reason.rule == rule.id
    elif rule.action == "flag":
        assert [before[f.start : f.end] for f in flags] == [example.text]
    else:
        assert doc.cleaned_text() == "\n\n".join(FILLER)
        assert "".join(before[r.start : r.end] for r in mine) == example.text
        assert dict(example.meta).items() <= doc.meta.items()


@pytest.mark.parametrize("rule", BUILTIN.rules, ids=lambda rule: rule.id)
def test_every_builtin_rule_has_several_hit_and_ok_examples(rule: Rule):
    kinds = [example.expect for example in rule.examples]
    assert kinds.count("hit") >= 2 and kinds.count("ok") >= 2


def test_builtin_rule_files_are_named_by_id_and_name():
    files = sorted(entry.name for entry in builtin_rules_dir().iterdir() if entry.name.endswith(".toml"))
    assert files == [f"{rule.id}-{rule.name}.toml" for rule in BUILTIN.rules]


# --- seeds, end to end ------------------------------------------------------------------------

SEED_BOILERPLATE = {
    "000_ec013513393c3d35.txt": [
        "READ MORE: Azerbaijan retakes more villages from Armenian occupation – Aliyev",
        "READ MORE: Violations reported as new ceasefire comes into force in Nagorno-Karabakh",
        "READ MORE: Putin seeks Turkey's hand in settling Karabakh conflict through Minsk Group",
        "READ MORE: Azerbaijan vows retaliation after deadly Armenian attack on Ganja",
        "Tartar region of #Azerbaijan. Sehlabat village. Destruction of white phosphorus projectile.",
        "— Hikmet Hajiyev (@HikmetHajiyev) November 4, 2020",
        "URGENT❗️ #Tartar city center and Shikharkh settlement",
        "— MFA Azerbaijan 🇦🇿 (@AzerbaijanMFA) November 4, 2020",
        "Azerbaycan ordusu Ermenistan’a ait tanklar ve zırhlı araçları imha etti. pic.twitter.com/GzYGmwOdcI",
        "— can acun (@canacun) November 3, 2020",
    ],
    "001_3b45b15f7c2cecdb.txt": ["date 2020-09-29 Fast News"],
    "002_96c4b650bc7dc9e5.txt": ["date 2020-10-31 BAKU, Azerbaijan, Oct. 31", "Trend:"],
    "003_d3cd856a60491968.txt": ["Home / news / Karabakh battles", "Source link", "Leave a Reply"],
    "004_306c1b31e536c9b7.txt": [
        "READ MORE: Karabakh: Azerbaijan, Armenia no closer to ending clashes after 5 days",
        "READ MORE: Why Azerbaijanis and Armenians have been fighting for so long",
        "READ MORE: Are PKK-linked terrorists fighting alongside Armenia in occupied-Karabakh?",
        "pic.twitter.com/8Oj8OGT5Hl",
        "— MFA Azerbaijan (@AzerbaijanMFA) October 2, 2020",
        "Discussion about this post",
    ],
}

SEED_CONTENT = {
    "000_ec013513393c3d35.txt": [
        "Azerbaijan: We've liberated seven more villages from Armenian occupation",
        "“The number of downed Armenian fighter jets reached to seven,” the ministry added.",
        "Strike on civilian settlements",
        "Nearly three-decade occupation",
    ],
    "001_3b45b15f7c2cecdb.txt": [
        "Azerbaijan's Defence Ministry says Armenian forces have attempted to retake freed ground",
        "Occupied Karabakh lies within Azerbaijan but has been under the control of Armenia since 1993. (TRTWorld)",
        "Turkey continues to stand with the friendly and brotherly Azerbaijan",
    ],
    "002_96c4b650bc7dc9e5.txt": [
        "The Supreme Commander-in-Chief of the Azerbaijani Armed Forces",
        "The 1994 ceasefire agreement was followed by peace negotiations.",
    ],
    "003_d3cd856a60491968.txt": [
        "Karabakh battles … Armenian drone shot down, Azerbaijan vows revenge",
        "war crimes",
        "We strongly condemn any attack or targeting of areas where civilians live.",
    ],
    "004_306c1b31e536c9b7.txt": [
        "Armenia must withdraw troops from the occupied Karabakh region",
        "Six days of fighting",
        "France, Russia, and NATO, among others, have also urged an immediate halt",
    ],
}


def seed_document(name: str) -> Document:
    path = REPO / "seeds" / name
    return apply_rules(make(path.read_text(encoding="utf-8")), BUILTIN)


@pytest.mark.parametrize("name", sorted(SEED_BOILERPLATE))
def test_seed_boilerplate_is_gone_and_content_stays(name: str):
    doc = seed_document(name)
    cleaned = doc.cleaned_text()
    for line in SEED_BOILERPLATE[name]:
        assert line in doc.text
        assert line not in cleaned
    for line in SEED_CONTENT[name]:
        assert line in cleaned
    assert rebuild_text(cleaned, doc.to_record()["removed"]) == doc.text


def test_seed_removals_are_only_whole_boilerplate_lines():
    doc = seed_document("000_ec013513393c3d35.txt")
    removed = [(r.rule, doc.text[r.start : r.end][:16]) for r in sorted(doc.removed, key=lambda r: r.start)]
    assert removed == [
        ("SM001", "Tartar region of"),
        ("SM002", "— Hikmet Hajiyev"),
        ("BP001", "READ MORE: Azerb"),
        ("SM002", "URGENT❗️ #Tartar"),
        ("SM002", "— MFA Azerbaijan"),
        ("BP001", "READ MORE: Viola"),
        ("BP001", "READ MORE: Putin"),
        ("SM001", "Azerbaycan ordus"),
        ("SM002", "— can acun (@can"),
        ("BP001", "READ MORE: Azerb"),
    ]
    lines = {doc.text[start:end] for _, start, end in doc.lines()}
    assert all(doc.text[r.start : r.end] in lines for r in doc.removed)


def test_seed_metadata_headers_go_to_meta():
    assert seed_document("001_3b45b15f7c2cecdb.txt").meta == {"date": "2020-09-29", "section": "Fast News"}
    assert seed_document("002_96c4b650bc7dc9e5.txt").meta == {
        "date": "2020-10-31",
        "dateline": "BAKU, Azerbaijan, Oct. 31",
        "agency": "Trend",
    }


# --- the engine ---------------------------------------------------------------------------------

RULE = """\
id = "XX001"
name = "test-rule"
summary = "a test rule"
scope = "line"
where = "anywhere"
pattern = 'CUT .*'
action = "remove"
status = "stable"
"""


def write_rule(folder: Path, text: str = RULE, file_name: str = "XX001-test-rule.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, file_name: str = "XX001-test-rule.toml") -> str:
    path = write_rule(tmp_path / "rules", text, file_name)
    with pytest.raises(ConfigError) as error:
        load_rules_dir(path.parent)
    return str(error.value).replace(str(path), "FILE")


def test_unknown_key_names_file_and_key(tmp_path: Path):
    message = load_error(tmp_path, RULE.replace("pattern =", "patern ="))
    assert message == (
        "FILE: unknown key 'patern'; a rule takes id, name, summary, kind, scope, where, within, "
        "pattern, flags, requires, previous, action, status, examples"
    )


def test_missing_key_names_it(tmp_path: Path):
    message = load_error(tmp_path, RULE.replace('action = "remove"\n', ""))
    assert message == "FILE: missing key 'action'; every rule needs id, name, summary, scope, where, action, status"


def test_bad_regex_names_the_key(tmp_path: Path):
    message = load_error(tmp_path, RULE.replace("'CUT .*'", "'CUT (.*'"))
    assert message == (
        "FILE: key 'pattern' is not a valid regex (missing ) at position 7); fix it "
        "(regex module syntax; TOML literal strings '...' keep backslashes as written)"
    )


def test_wrong_type_and_bad_choice(tmp_path: Path):
    text = RULE.replace('where = "anywhere"', 'where = "tail"\nwithin = "3"')
    assert load_error(tmp_path, text) == (
        "FILE: key 'within' must be a whole number of lines (paragraphs) of 1 or more when where = 'tail', not '3'"
    )
    text = RULE.replace('scope = "line"', 'scope = "word"')
    assert load_error(tmp_path, text) == "FILE: key 'scope' must be one of line, paragraph, document, not 'word'"


def test_nested_quantifier_is_refused(tmp_path: Path):
    message = load_error(tmp_path, RULE.replace("'CUT .*'", r"'(\w+\s?)+!'"))
    assert message == (
        "FILE: key 'pattern' repeats a repetition, '(\\\\w+\\\\s?)+', which can backtrack catastrophically; "
        "bound the inner or the outer repetition, or make it possessive ('++', '*+') or atomic ('(?>...)')"
    )


def test_pattern_that_times_out_on_a_probe_is_refused(tmp_path: Path):
    # regex 2026.11 finds `(.*a){9}` quickly; an alternation that overlaps itself still backtracks
    message = load_error(tmp_path, RULE.replace("'CUT .*'", "'(a|aa)+$'"))
    assert message == (
        "FILE: key 'pattern' took over 0.2s on a 2002-character probe ('aaaaaaaaaaaa'...): "
        "it backtracks catastrophically; make the repetitions unambiguous"
    )


def test_duplicate_id_names_both_files(tmp_path: Path):
    folder = tmp_path / "rules"
    first = write_rule(folder)
    second = write_rule(folder, RULE.replace("test-rule", "other-rule"), "XX001-other-rule.toml")
    with pytest.raises(ConfigError) as error:
        load_rules_dir(folder)
    assert str(error.value) == (
        f"{first}: key 'id': XX001 is already used by {second}; rule ids are unique, give one of them a new id"
    )


def test_file_name_must_match_id_and_name(tmp_path: Path):
    message = load_error(tmp_path, RULE, "XX002-test-rule.toml")
    assert message.endswith("key 'id'/'name' say XX001-test-rule; rename the file to XX001-test-rule.toml")


def test_example_with_unknown_key_is_refused(tmp_path: Path):
    message = load_error(tmp_path, RULE + '\n[[examples]]\nhits = "CUT this"\n')
    assert message == "FILE: key 'examples[0]': unknown key 'hits'; an example takes hit, ok, text, cleaned, meta"


def test_extra_folder_overrides_a_builtin_by_id_and_adds_rules(tmp_path: Path):
    folder = tmp_path / "mine"
    override = RULE.replace("XX001", "BP001").replace("test-rule", "read-more")
    write_rule(folder, override, "BP001-read-more.toml")
    write_rule(folder)
    ruleset = load_ruleset([folder])
    assert ruleset.get("BP001").path == str(folder / "BP001-read-more.toml")
    assert ruleset.ids == tuple(sorted(BUILTIN.ids + ("XX001",)))
    doc = apply_rules(make("READ MORE: x\n\nCUT me\n\nkeep"), ruleset)
    assert doc.cleaned_text() == "READ MORE: x\n\nkeep"


def test_select_narrows_and_ignore_removes_by_prefix():
    assert load_ruleset(select=["SM"]).ids == ("SM001", "SM002", "SM003", "SM004")
    assert load_ruleset(select=["sm", "MD001"], ignore=["SM00"]).ids == ("MD001",)
    assert "BP001" not in load_ruleset(ignore=["BP001"]).ids
    with pytest.raises(ConfigError) as error:
        load_ruleset(select=["QQ"])
    assert str(error.value) == "select: 'QQ' matches no rule; use a rule id or a prefix of one (BP, DD, IN, LG, MD, NM, SM)"


def test_preview_rules_run_only_when_asked(tmp_path: Path):
    folder = tmp_path / "mine"
    write_rule(folder, RULE.replace('status = "stable"', 'status = "preview"'))
    assert "XX001" not in load_ruleset([folder]).ids
    assert "XX001" in load_ruleset([folder], preview=True).ids
    assert load_ruleset([folder], select=["XX001"]).ids == ("XX001",)
    assert load_ruleset([folder], select=["XX"]).ids == ()


def test_removal_provenance_names_stage_rule_and_reason():
    doc = apply_rules(make("Intro line here.\n\nREAD MORE: Another story\n\nBody text stays."), BUILTIN)
    record = doc.to_record()
    assert record["text"] == "Intro line here.\n\nBody text stays."
    [span] = record["removed"]
    assert span == {
        "start": 18,
        "end": 44,
        "text": "READ MORE: Another story\n\n",
        "stage": "rules",
        "rule": "BP001",
        "name": "read-more",
        "detail": BUILTIN.get("BP001").summary,
    }
    assert rebuild_text(record["text"], record["removed"]) == doc.text


def test_extract_puts_groups_in_meta_and_keeps_existing_values():
    doc = apply_rules(make("date 2020-09-29 Fast News\n\nBody text stays.", {"date": "2020-09-30"}), BUILTIN)
    assert doc.meta == {"date": "2020-09-30", "section": "Fast News"}
    [removal] = doc.removed
    assert removal.detail == "extracted date='2020-09-29' (kept '2020-09-30'), section='Fast News'"
    assert doc.cleaned_text() == "Body text stays."


def test_drop_document_records_the_reason():
    doc = apply_rules(make("404 Not Found"), BUILTIN)
    assert doc.status == "dropped"
    assert doc.reason is not None and (doc.reason.stage, doc.reason.rule, doc.reason.name) == (
        "rules",
        "BP014",
        "stub-page",
    )
    assert doc.reason.detail.endswith(": matched '404 Not Found'")


def test_a_line_removed_by_one_rule_is_not_matched_by_the_next(tmp_path: Path):
    folder = tmp_path / "mine"
    write_rule(folder)
    write_rule(folder, RULE.replace("XX001", "XX002").replace("test-rule", "again"), "XX002-again.toml")
    doc = apply_rules(make("keep\n\nCUT this"), load_ruleset([folder], builtin=False))
    assert [(r.rule, doc.text[r.start : r.end]) for r in doc.removed] == [("XX001", "CUT this")]


def test_head_and_tail_count_the_lines_still_there(tmp_path: Path):
    folder = tmp_path / "mine"
    write_rule(folder)
    tail = RULE.replace("XX001", "XX002").replace("test-rule", "footer").replace("'CUT .*'", "'Footer'")
    write_rule(folder, tail.replace('where = "anywhere"', 'where = "tail"\nwithin = 1'), "XX002-footer.toml")
    doc = apply_rules(make("Footer\n\nbody\n\nFooter\n\nCUT one\n\nCUT two"), load_ruleset([folder], builtin=False))
    assert doc.cleaned_text() == "Footer\n\nbody"


def test_previous_removes_the_tweet_text_above_its_attribution():
    text = "Body one.\n\nWe will rebuild the city, stone by stone.\n\n— City Mayor (@mayor) May 1, 2021\n\nBody two."
    doc = apply_rules(make(text), BUILTIN)
    assert doc.cleaned_text() == "Body one.\n\nBody two."
    assert [r.detail.split(":")[0] for r in sorted(doc.removed, key=lambda r: r.start)] == [
        "line before a match",
        BUILTIN.get("SM002").summary.split(":")[0],
    ]


def slow_rule() -> Rule:
    """A catastrophic pattern built directly, as loading would refuse it."""
    return Rule(
        id="XX009", name="slow", summary="slow", kind="pattern", scope="line", where="anywhere", within=None,
        pattern=regex.compile(r"(a|aa)+$"), flags=(), previous=None, action="remove", status="stable",
    )


def test_a_pattern_that_times_out_is_flagged_and_the_run_goes_on():
    ruleset = RuleSet((BUILTIN.get("BP001"), slow_rule()), timeout=0.05)
    long_line = "a" * 3000 + "!"
    doc = apply_rules(make(f"READ MORE: x\n\n{long_line}\n\n{long_line}"), ruleset)
    assert doc.status == "kept"
    assert doc.cleaned_text() == f"{long_line}\n\n{long_line}"
    assert [(f.rule, f.name, f.detail, doc.text[f.start : f.end]) for f in doc.flags] == [
        ("XX009", "slow", "pattern timed out after 0.05s; XX009 skipped for the rest of this document", long_line)
    ]


def test_document_scope_flag_keeps_the_text(tmp_path: Path):
    folder = tmp_path / "mine"
    text = RULE.replace('scope = "line"', 'scope = "document"').replace('"remove"', '"flag"')
    write_rule(folder, text.replace("'CUT .*'", "'lorem ipsum'"))
    doc = apply_rules(make("Some lorem ipsum text."), load_ruleset([folder], builtin=False))
    assert doc.cleaned_text() == "Some lorem ipsum text."
    assert [(f.rule, doc.text[f.start : f.end]) for f in doc.flags] == [("XX001", "lorem ipsum")]


def test_error_documents_are_left_alone():
    doc = Document.failed("a", SOURCE, reason=None)  # type: ignore[arg-type]
    assert apply_rules(doc, BUILTIN) is doc and doc.removed == []


def test_ruleset_pickles_and_its_digest_is_stable(tmp_path: Path):
    copy = pickle.loads(pickle.dumps(BUILTIN))
    assert copy.ids == BUILTIN.ids and copy.digest == BUILTIN.digest == load_ruleset().digest
    doc = apply_rules(make("READ MORE: x\n\nbody"), copy)
    assert doc.cleaned_text() == "body"
    folder = tmp_path / "mine"
    write_rule(folder, RULE.replace("XX001", "BP001").replace("test-rule", "read-more"), "BP001-read-more.toml")
    assert load_ruleset([folder]).digest != BUILTIN.digest
    assert load_ruleset(ignore=["BP001"]).digest != BUILTIN.digest


def test_parse_rule_reads_one_rule_from_text():
    rule = parse_rule(RULE, "somewhere/XX001-test-rule.toml")
    assert (rule.id, rule.scope, rule.where, rule.action, rule.pattern.pattern) == (
        "XX001",
        "line",
        "anywhere",
        "remove",
        "CUT .*",
    )


TEXT_PIECES = [*"ab #@/:|—-()\n.,RAMOH", "\n\n", "READ MORE: ", "pic.twitter.com/Ab12", "— X (@x) May 1, 2020",
               "Home / news / ", "date 2020-01-02 ", "Share this article", "Photo: ", "By Jane Smith"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TEXT_PIECES), max_size=60).map("".join))
def test_rules_never_raise_and_provenance_rebuilds_the_text(text: str):
    doc = make(text)
    if doc.status == "error":
        return
    apply_rules(doc, BUILTIN)
    record = doc.to_record()
    assert rebuild_text(record["text"], record["removed"]) == doc.text


def test_the_rules_readme_lists_every_builtin_rule():
    readme = (REPO / "rules" / "README.md").read_text(encoding="utf-8")
    for rule in BUILTIN.rules:
        where = rule.where + (f" {rule.within}" if rule.within else "")
        assert f"| {rule.id} | {rule.name} | {rule.scope} | {where} | {rule.action} |" in readme


def test_a_missing_rules_folder_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError) as error:
        load_ruleset([tmp_path / "nope"])
    assert str(error.value) == f"{tmp_path / 'nope'}: rules folder not found; pass a folder of <ID>-<name>.toml files"


def test_requires_is_a_prefilter_that_every_hit_example_must_satisfy(tmp_path: Path):
    folder = tmp_path / "mine"
    # The pattern alone would also cut "cut this" lines; the prefilter restricts it to lines
    # holding "CUT" in any case, which both hit and only those.
    write_rule(folder, RULE.replace("pattern = 'CUT .*'", "pattern = '(?i)cut .*'\nrequires = [\"Cut \"]"))
    [rule] = [rule for rule in load_ruleset([folder]).rules if rule.id == "XX001"]
    assert rule.requires == ("cut ",)
    doc = apply_rules(make("CUT me\n\nkeep\n\ncut me too"), load_ruleset([folder], select=["XX001"]))
    assert doc.cleaned_text() == "keep"
    narrowed = RULE.replace("pattern = 'CUT .*'", "pattern = 'CUT .*'\nrequires = [\"never\"]")
    assert apply_rules(make("CUT me\n\nkeep"), _ruleset(write_rule(tmp_path / "other", narrowed).parent)).cleaned_text() == "CUT me\n\nkeep"


def _ruleset(folder: Path):
    return load_ruleset([folder], select=["XX001"])


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ('requires = "CUT"', "FILE: key 'requires' must be a list of non-empty strings, not 'CUT'"),
        ('requires = [""]', "FILE: key 'requires' must be a list of non-empty strings, not ['']"),
        (
            'requires = ["snip"]\n[[examples]]\nhit = "CUT here"',
            "FILE: key 'requires': hit example 'CUT here' holds none of ['snip']",
        ),
    ],
)
def test_a_bad_requires_names_file_and_key(tmp_path: Path, addition: str, message: str):
    assert load_error(tmp_path, RULE + addition + "\n") == message


def test_the_tweet_link_rule_is_only_tried_on_lines_with_a_link():
    rule = BUILTIN.get("SM001")
    assert not rule.may_match("A long sentence about the talks, with no link at all, " * 10)
    assert rule.may_match("Fighting resumed overnight. https://T.CO/Ab12Cd34Ef")


def test_the_units_kept_from_rule_to_rule_change_nothing():
    """apply_rules keeps each document's line and paragraph spans from one rule to the next;
    applying the rules one by one, each finding its units afresh, gives the same document."""
    from dataclasses import replace

    # the built-in rules look at lines; two copies that look at paragraphs, first and last
    by_paragraph = [replace(BUILTIN.get(rule_id), id=new_id, scope="paragraph") for rule_id, new_id in (("BP005", "AA001"), ("BP009", "ZZ001"))]
    ruleset = RuleSet((by_paragraph[0], *BUILTIN.rules, by_paragraph[1]), timeout=BUILTIN.timeout)
    texts = [path.read_text(encoding="utf-8") for path in sorted((REPO / "seeds").glob("*.txt"))]
    texts += [
        "\n\n".join([example.text, *FILLER, "READ MORE: Talks resume", "Share this article", "Advertisement"])
        for rule in BUILTIN.rules
        for example in rule.examples
        if example.expect == "hit"
    ]
    # and lines that are not paragraphs: a hit as a line of a longer paragraph
    texts += [f"{FILLER[0]}\n\n{FILLER[1]}\n{text}\n{FILLER[2]}" for text in texts[-20:]]
    acted = 0
    for text in texts:
        together, alone = make(text), make(text)
        apply_rules(together, ruleset)
        for rule in ruleset.rules:
            if alone.status != "kept":
                break
            apply_rule(alone, rule, ruleset.timeout)
        assert together.to_record() == alone.to_record()
        acted += len(together.removed) + len(together.flags) + (together.status != "kept")
    assert acted > 20
