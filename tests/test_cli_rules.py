"""`cleaner rules`, `cleaner explain`, and rule/language options on `cleaner run`."""

from __future__ import annotations

import json
import textwrap

from test_cli import cleaner, read_docs

ARTICLE = textwrap.dedent("""\
    Talks resume in Geneva after weeks of fighting
    The foreign ministers of both countries met in Geneva on Monday for the first time since the fighting began.
    READ MORE: Ceasefire collapses hours after it was agreed
    Officials said the talks would continue on Tuesday and that a joint statement was expected by the end of the week.
    """)


def write_corpus(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/talks.txt").write_text(ARTICLE, encoding="utf-8")


def test_rules_list_shows_every_builtin_rule(tmp_path):
    result = cleaner("rules", "list", cwd=tmp_path)
    assert result.returncode == 0
    ids = [line.split()[0] for line in result.stdout.splitlines()[2:] if line.strip() and line.split()[0][:2] in ("BP", "MD", "SM")]
    assert ids[:3] == ["BP001", "BP002", "BP003"] and "SM002" in ids
    assert "read-more" in result.stdout


def test_rules_list_honours_select_and_ignore(tmp_path):
    result = cleaner("rules", "list", "--select", "SM", "--ignore", "SM003", cwd=tmp_path)
    ids = [line.split()[0] for line in result.stdout.splitlines() if line.strip().startswith(("BP", "SM", "MD"))]
    assert ids == ["SM001", "SM002", "SM004"]


def test_rules_show_prints_one_rule_and_unknown_ids_exit_2(tmp_path):
    result = cleaner("rules", "show", "bp001", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("BP001 read-more\n")
    assert "  action:  remove\n" in result.stdout and "    hit  READ MORE:" in result.stdout
    missing = cleaner("rules", "show", "XX999", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (2, "cleaner: error: no rule 'XX999'; see `cleaner rules list`\n")


def test_run_removes_boilerplate_and_explain_shows_why(tmp_path):
    write_corpus(tmp_path)
    assert cleaner("run", "in", "out", "-q", cwd=tmp_path).returncode == 0
    [doc] = read_docs(tmp_path / "out")
    assert "READ MORE" not in doc["text"]
    [removed] = doc["removed"]
    assert (removed["rule"], removed["name"], removed["stage"]) == ("BP001", "read-more", "rules")
    assert doc["lang"] == "en"
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert "BP001" in manifest["rules"]["ids"] and len(manifest["rules"]["digest"]) == 64
    assert manifest["removed"]["BP001"]["spans"] == 1

    result = cleaner("explain", "out", "talks", "--no-color", cwd=tmp_path)
    assert result.returncode == 0
    assert "[-BP001: READ MORE: Ceasefire collapses hours after it was agreed-]" in result.stdout
    data = json.loads(cleaner("explain", "out", "talks", "--output-format", "json", cwd=tmp_path).stdout)
    assert [span["rule"] for span in data["spans"]] == ["BP001"]
    assert data["text"].startswith("Talks resume in Geneva")


def test_explain_errors_exit_2(tmp_path):
    write_corpus(tmp_path)
    cleaner("run", "in", "out", "-q", cwd=tmp_path)
    missing = cleaner("explain", "out", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "no document 'nope'" in missing.stderr
    assert cleaner("explain", "in", "talks", cwd=tmp_path).returncode == 2


def test_ignore_keeps_the_line_and_user_rules_add_to_the_builtins(tmp_path):
    write_corpus(tmp_path)
    cleaner("run", "in", "out", "-q", "--ignore", "BP", cwd=tmp_path)
    [doc] = read_docs(tmp_path / "out")
    assert "READ MORE" in doc["text"]

    (tmp_path / "myrules").mkdir()
    (tmp_path / "myrules/XX001-geneva-talks.toml").write_text(textwrap.dedent('''\
        id = "XX001"
        name = "geneva-talks"
        summary = "a line about Geneva talks (test rule)"
        scope = "line"
        where = "anywhere"
        pattern = 'Officials said the talks .*'
        action = "remove"
        status = "stable"

        [[examples]]
        hit = "Officials said the talks would continue."

        [[examples]]
        ok = "Nobody said anything."
        '''), encoding="utf-8")
    cleaner("run", "in", "out", "-q", "--rules", "myrules", cwd=tmp_path)
    [doc] = read_docs(tmp_path / "out")
    assert {r["rule"] for r in doc["removed"]} == {"BP001", "XX001"}


def test_a_broken_user_rule_is_a_usage_error_naming_the_file(tmp_path):
    write_corpus(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/XX001-bad.toml").write_text('id = "XX001"\nname = "bad"\n', encoding="utf-8")
    result = cleaner("run", "in", "out", "--rules", "bad", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("cleaner: error: ") and "XX001-bad.toml" in result.stderr


def test_lang_drops_documents_in_other_languages(tmp_path):
    write_corpus(tmp_path)
    (tmp_path / "in/fr.txt").write_text(
        "Les ministres des affaires étrangères se sont rencontrés à Genève lundi pour la première fois depuis le début des combats.\n",
        encoding="utf-8",
    )
    cleaner("run", "in", "out", "-q", "--lang", "en", cwd=tmp_path)
    docs = {d["id"]: d for d in read_docs(tmp_path / "out")}
    assert docs["talks"]["status"] == "kept"
    assert (docs["fr"]["status"], docs["fr"]["reason"]["rule"], docs["fr"]["lang"]) == ("dropped", "LG002", "fr")
