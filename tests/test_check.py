"""`cleaner check`, the data-quality gate, end to end in a real git repository."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import REPO
from test_cli import cleaner

ARTICLE_A = textwrap.dedent("""\
    Ceasefire talks resume in Geneva
    The foreign ministers of both countries met in Geneva on Monday for the first time since the fighting began last month.
    Relations between the two former Soviet republics have been tense since 1991 when the Armenian military occupied Upper Karabakh, an internationally recognised territory of Azerbaijan.
    Officials said the talks would continue on Tuesday and that a joint statement was expected by the end of the week.
    """)
ARTICLE_B = textwrap.dedent("""\
    Harvest festival draws record crowds

    The annual harvest festival in the northern valley drew more visitors than ever this weekend, organisers said.

    Farmers sold apples, honey and cheese from more than two hundred stalls along the river.
    """)
# A new article with a cross-promotion line and a reworded copy of A's background paragraph.
ARTICLE_C = textwrap.dedent("""\
    Shelling resumes near Tartar overnight
    Residents of the town spent the night in basements as shelling resumed after a short lull, local officials said.
    READ MORE: Ceasefire talks resume in Geneva
    Relations between the two former Soviet nations have been tense since 1993, when Armenian forces occupied Upper Karabakh, an internationally-recognised territory of Azerbaijan.
    """)
# Another new article repeating B's second paragraph word for word.
ARTICLE_D = textwrap.dedent("""\
    Valley towns count the cost of the storm
    Roads were closed and power lines brought down across the valley by the storm on Thursday night.
    Farmers sold apples, honey and cheese from more than two hundred stalls along the river.
    """)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A dataset repository with a clean corpus committed on main."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.txt").write_text(ARTICLE_A, encoding="utf-8")
    (tmp_path / "data/b.txt").write_text(ARTICLE_B, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool.cleaner]\npaths = ["data"]\n', encoding="utf-8")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "clean corpus")
    return tmp_path


def test_a_clean_corpus_passes(repo):
    result = cleaner("check", cwd=repo)
    assert (result.returncode, result.stdout) == (0, "\n0 finding(s) in 2 document(s); findings: 0 (budget 0): passed\n")


def test_the_gate_fails_on_new_boilerplate_and_duplicates_then_a_baseline_accepts_them(repo):
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add c")

    result = cleaner("check", "--output-format", "github", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "::error file=data/c.txt,line=3,col=1,title=BP001 read-more::removed: \"READ MORE: Ceasefire talks resume in Geneva\"",
        "::error file=data/c.txt,line=4,col=1,title=DD002 duplicate-paragraph::71%25 similar to paragraph 2 in a "
        "(cluster Pf620dec87e): \"Relations between the two former Soviet nations have been t…\"",
        "",
        "1  BP001 read-more",
        "1  DD002 duplicate-paragraph",
        "",
        "2 finding(s) in 3 document(s); findings: 2 (budget 0): failed",
    ]

    written = cleaner("check", "--write-baseline", "cleaner-baseline.json", cwd=repo)
    assert (written.returncode, written.stdout) == (0, "")
    assert written.stderr == "cleaner: wrote 2 finding(s) to baseline cleaner-baseline.json\n"
    baseline = json.loads((repo / "cleaner-baseline.json").read_text())
    assert [(e["path"], e["rule"]) for e in baseline["findings"]] == [("data/c.txt", "BP001"), ("data/c.txt", "DD002")]

    accepted = cleaner("check", "--baseline", "cleaner-baseline.json", cwd=repo)
    assert (accepted.returncode, accepted.stdout) == (0, "\n0 finding(s) in 3 document(s); findings: 0 (budget 0): passed\n")

    # Lines shift above the accepted findings: their fingerprints do not change.
    (repo / "data/c.txt").write_text("Updated at 10:00\n" + ARTICLE_C, encoding="utf-8")
    assert cleaner("check", "--baseline", "cleaner-baseline.json", cwd=repo).returncode == 0

    (repo / "data/d.txt").write_text(ARTICLE_D, encoding="utf-8")
    again = cleaner("check", "--baseline", "cleaner-baseline.json", cwd=repo)
    assert again.returncode == 1
    assert again.stdout.splitlines()[0] == (
        "data/d.txt:3:1: DD002 duplicate-paragraph: 100% similar to paragraph 2 in b (cluster P5144ba9ac7): "
        "\"Farmers sold apples, honey and cheese from more than two hu…\""
    )
    assert again.stdout.splitlines()[-1] == "1 finding(s) in 4 document(s); findings: 1 (budget 0): failed"


def test_baseline_entries_that_no_longer_occur_are_reported(repo):
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    cleaner("check", "--write-baseline", "base.json", cwd=repo)
    (repo / "data/c.txt").write_text(ARTICLE_C.replace("READ MORE: Ceasefire talks resume in Geneva\n", ""), encoding="utf-8")
    result = cleaner("check", "--baseline", "base.json", cwd=repo)
    assert result.returncode == 0
    assert 'baseline entry no longer found: data/c.txt: BP001 removed: "READ MORE: Ceasefire talks resume in Geneva"' in result.stdout


def test_diff_against_reports_only_what_the_change_adds_even_when_the_new_file_sorts_first(repo):
    (repo / "data/0-new.txt").write_text(ARTICLE_C, encoding="utf-8")
    (repo / "data/b.txt").write_text(ARTICLE_B.replace("drew more visitors", "drew many more visitors"), encoding="utf-8")
    result = cleaner("check", "--diff-against", "HEAD", cwd=repo)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0].split(" ")[0] for line in lines if line.startswith("data/")] == [
        "data/0-new.txt:3:1",
        "data/0-new.txt:4:1",
    ]
    assert "DD002 duplicate-paragraph: 71% similar to paragraph 2 in a" in lines[1]


def test_diff_against_counts_only_the_lines_a_change_adds_to_an_existing_file(repo):
    # Committed with a READ MORE line (accepted long ago); the change edits another line and
    # appends a second promotion line: only the added line is the change's finding.
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add c")
    edited = ARTICLE_C.replace("a short lull", "a brief lull") + "Click here to subscribe to our newsletter\n"
    (repo / "data/c.txt").write_text(edited, encoding="utf-8")
    everything = cleaner("check", cwd=repo).stdout.splitlines()
    assert [line.split(" ")[0] for line in everything if line.startswith("data/")] == ["data/c.txt:3:1:", "data/c.txt:4:1:", "data/c.txt:5:1:"]
    result = cleaner("check", "--diff-against", "HEAD", cwd=repo)
    assert result.returncode == 1
    assert [line.split(" ")[:2] for line in result.stdout.splitlines() if line.startswith("data/")] == [["data/c.txt:5:1:", "BP012"]]
    # --changed takes the whole file.
    whole = cleaner("check", "--changed", "data/c.txt", cwd=repo).stdout.splitlines()
    assert [line.split(" ")[0] for line in whole if line.startswith("data/")] == ["data/c.txt:3:1:", "data/c.txt:4:1:", "data/c.txt:5:1:"]


def test_diff_against_brings_in_a_whole_jsonl_record_when_its_line_changes(repo):
    records = [{"id": "a", "text": ARTICLE_A}, {"id": "b", "text": ARTICLE_B}]
    feed = repo / "data/feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feed")
    # Record 2 becomes a copy of record 1: a duplicate document, reported on its own line.
    records[1]["text"] = ARTICLE_A.replace("Monday", "Tuesday")
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = cleaner("check", "--diff-against", "HEAD", "--select", "DD001", cwd=repo)
    assert [line.split(" ")[:2] for line in result.stdout.splitlines() if line.startswith("data/")] == [["data/feed.jsonl:2:1:", "DD001"]]


def test_exit_zero_budgets_and_per_path_ignores(repo):
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    assert cleaner("check", "--exit-zero", cwd=repo).returncode == 0
    assert cleaner("check", "--max-findings", "2", cwd=repo).returncode == 0
    assert cleaner("check", "--max-findings", "1", cwd=repo).returncode == 1
    assert cleaner("check", "--ignore", "BP", "--max-duplicate-rate", "0.2", cwd=repo).returncode == 0
    assert cleaner("check", "--ignore", "BP", "--max-duplicate-rate", "0.01", cwd=repo).returncode == 1
    (repo / "pyproject.toml").write_text(
        '[tool.cleaner]\npaths = ["data"]\n[tool.cleaner.per-path-ignores]\n"data/c.txt" = ["BP001"]\n'
        "[tool.cleaner.budgets]\nDD = 1\n",
        encoding="utf-8",
    )
    result = cleaner("check", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "1 finding(s) in 3 document(s); DD findings: 1 (budget 1); findings: 0 (budget 0): passed"
    assert cleaner("check", "--isolated", "data", cwd=repo).returncode == 1


def test_usage_errors_exit_2(repo):
    assert cleaner("check", "--output-format", "xml", cwd=repo).returncode == 2
    missing = cleaner("check", "--baseline", "nope.json", cwd=repo)
    assert (missing.returncode, missing.stderr) == (
        2,
        "cleaner: error: baseline 'nope.json' does not exist; write one with --write-baseline nope.json\n",
    )
    assert cleaner("check", "--diff-against", "no-such-ref", cwd=repo).returncode == 2
    (repo / "pyproject.toml").write_text('[tool.cleaner]\npaths = ["data"]\nmax-findings = -1\n', encoding="utf-8")
    assert cleaner("check", cwd=repo).returncode == 2


def test_json_output_is_documented_and_stable(repo):
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    payload = json.loads(cleaner("check", "--output-format", "json", cwd=repo).stdout)
    assert list(payload) == ["version", "tool", "findings", "summary", "budgets", "baseline_gone", "verdict"]
    assert list(payload["findings"][0]) == ["path", "line", "col", "rule", "name", "message", "doc", "fingerprint"]
    assert payload["summary"]["by_rule"] == {"BP001": 1, "DD002": 1}
    assert payload["verdict"] == "fail"


SCHEMAS = Path(__file__).parent / "schemas"
AWKWARD = "<b>&\"quotes\" ‘curly’ and a tab\t"


def test_junit_output_validates_against_the_junit_schema_and_is_read_by_junit_tools(repo, tmp_path):
    import xmlschema
    from junitparser import JUnitXml

    schema = xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd")
    clean = cleaner("check", "--output-format", "junit", cwd=repo).stdout
    schema.validate(clean)
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    awkward = "The harbour authority opened a second ferry berth on Monday after two years of work.\n\nREAD MORE\n"
    (repo / f"data/{AWKWARD}.txt").write_text(awkward, encoding="utf-8")
    report = tmp_path / "junit.xml"
    report.write_text(cleaner("check", "--output-format", "junit", cwd=repo).stdout, encoding="utf-8")
    schema.validate(str(report))
    suites = JUnitXml.fromfile(str(report))
    [suite] = list(suites)
    cases = {case.name: [result.type for result in case.result] for case in suite}
    assert suite.tests == 2
    assert cases["data/c.txt"] == ["BP001", "DD002"]
    assert cases[f"data/{AWKWARD}.txt"] == ["BP001"]


def test_junit_schema_check_can_fail():
    import xmlschema

    schema = xmlschema.XMLSchema(SCHEMAS / "junit-10.xsd")
    assert not schema.is_valid('<testsuites><testsuite name="x"><testcase/></testsuite></testsuites>')


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(repo):
    import jsonschema

    schema = json.loads((SCHEMAS / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(json.loads(cleaner("check", "--output-format", "sarif", cwd=repo).stdout))
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    payload = json.loads(cleaner("check", "--output-format", "sarif", cwd=repo).stdout)
    validator.validate(payload)
    [run] = payload["runs"]
    assert [result["ruleId"] for result in run["results"]] == ["BP001", "DD002"]
    location = run["results"][0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "data/c.txt"}, "region": {"startLine": 3, "startColumn": 1}}
    broken = {**payload, "runs": [{**run, "results": [{**run["results"][0], "level": "fatal"}]}]}
    assert not validator.is_valid(broken)


def commands_in(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in re.findall(rf"^\s*(?:- )?(?:run|entry): ({prefix}.*)$", text, re.MULTILINE)]


def test_the_github_workflow_in_the_readme_runs_and_fails_the_pull_request(repo):
    workflow = (REPO / "examples/github-actions.yml").read_text(encoding="utf-8")
    assert workflow in (REPO / "README.md").read_text(encoding="utf-8")
    [command] = commands_in(workflow, "cleaner ")
    command = command.replace("${{ github.base_ref }}", "main")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "-q", "-b", "pull-request")
    (repo / "cleaner-baseline.json").write_text('{"tool": "cleaner", "version": 1, "findings": []}\n', encoding="utf-8")
    (repo / "data/c.txt").write_text(ARTICLE_C, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pull request adds c")
    result = cleaner(*command.split()[1:], cwd=repo)
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=data/c.txt,line=3,col=1,title=BP001 read-more::")


def test_the_pre_commit_hook_in_the_readme_runs_on_uncommitted_changes(repo):
    hooks = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert hooks in (REPO / "README.md").read_text(encoding="utf-8")
    [entry] = commands_in(hooks, "cleaner ")
    assert cleaner(*entry.split()[1:], cwd=repo).returncode == 0
    (repo / "data/d.txt").write_text(ARTICLE_D, encoding="utf-8")
    result = cleaner(*entry.split()[1:], cwd=repo)
    assert result.returncode == 1 and result.stdout.startswith("data/d.txt:3:1: DD002 duplicate-paragraph")
