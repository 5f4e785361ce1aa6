"""`cleaner dupes`: exit codes, formats, and where it finds its inputs when given none."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import BACKGROUND, EDITED
from test_cli import cleaner



def corpus(root: Path, with_duplicate: bool = True) -> Path:
    data = root / "data"
    data.mkdir()
    (data / "a.txt").write_text(f"Ceasefire talks begin in Moscow on Friday evening.\n{BACKGROUND}\n", encoding="utf-8")
    second = EDITED if with_duplicate else "The weather in Baku was mild and dry for most of the week, forecasters said."
    (data / "b.txt").write_text(f"Shelling resumed near Tartar overnight, officials said.\n\n{second}\n", encoding="utf-8")
    return data


def test_text_report_lists_each_cluster_and_exits_1(tmp_path):
    corpus(tmp_path)
    result = cleaner("dupes", "data", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.splitlines() == [
        "paragraph cluster Pf5ff3c9d56: 2 copies in 2 document(s)",
        "  kept     a ¶1                                      Relations between the two former Soviet republics have been tense since…",
        "  removed  b ¶1                                0.71  Relations between the two former Soviet nations have been tense since 1…",
        "",
        "1 cluster(s) in 2 document(s): 0 duplicate document(s), 1 duplicate paragraph(s)",
    ]


def test_no_duplicates_exits_0(tmp_path):
    corpus(tmp_path, with_duplicate=False)
    result = cleaner("dupes", "data", "--threshold", "0.8", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "0 cluster(s) in 2 document(s): 0 duplicate document(s), 0 duplicate paragraph(s)\n")


def test_json_report_is_stable_and_complete(tmp_path):
    corpus(tmp_path)
    result = cleaner("dupes", "data", "--output-format", "json", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["summary"] == {
        "documents": 2,
        "clusters": 1,
        "document_clusters": 0,
        "paragraph_clusters": 1,
        "duplicate_documents": 0,
        "duplicate_paragraphs": 1,
    }
    [cluster] = report["clusters"]
    assert cluster["canonical"] == {"doc": "a", "paragraph": 1, "text": BACKGROUND}
    assert cluster["members"] == [{"doc": "b", "paragraph": 1, "similarity": 0.7092, "measure": "jaccard", "text": EDITED}]
    assert cluster["documents"] == ["a", "b"]


def test_github_annotations_point_at_the_duplicate_line(tmp_path):
    corpus(tmp_path)
    result = cleaner("dupes", "data", "--output-format", "github", cwd=tmp_path)
    assert result.stdout == (
        f"::warning file={Path('data/b.txt')},line=3,title=DD002 duplicate-paragraph::"
        "71%25 similar to a ¶1 (cluster Pf5ff3c9d56)\n"
    )


def test_a_higher_threshold_without_containment_finds_nothing(tmp_path):
    corpus(tmp_path)
    assert cleaner("dupes", "data", "--paragraph-threshold", "0.9", cwd=tmp_path).returncode == 1
    result = cleaner("dupes", "data", "--paragraph-threshold", "0.9", "--paragraph-containment", "0", cwd=tmp_path)
    assert result.returncode == 0


def test_without_paths_it_reads_tool_cleaner_paths(tmp_path):
    corpus(tmp_path)
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.cleaner]
        paths = ["data"]
        paragraph-threshold = 0.6
    """), encoding="utf-8")
    result = cleaner("dupes", "--threshold", "0.8", cwd=tmp_path)
    assert result.returncode == 1 and "Relations between" in result.stdout


def test_without_paths_or_config_it_reads_the_last_runs_inputs(tmp_path):
    corpus(tmp_path)
    assert cleaner("run", "data", "out", "-q", cwd=tmp_path).returncode == 0
    result = cleaner("dupes", "--threshold", "0.8", cwd=tmp_path)
    assert result.returncode == 1 and "paragraph cluster" in result.stdout


def test_without_any_input_it_exits_2_with_a_hint(tmp_path):
    result = cleaner("dupes", "--threshold", "0.8", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "cleaner: error: no input given: pass a path (cleaner dupes DIR), set paths in [tool.cleaner] of "
        "pyproject.toml or cleaner.toml, or run `cleaner run IN out/` first\n"
    )


def test_bad_config_keys_are_usage_errors_naming_file_and_key(tmp_path):
    corpus(tmp_path)
    (tmp_path / "cleaner.toml").write_text("treshold = 0.8\n", encoding="utf-8")
    result = cleaner("dupes", "data", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"cleaner: error: {tmp_path / 'cleaner.toml'}: unknown key 'treshold'")
    assert cleaner("dupes", "data", "--isolated", cwd=tmp_path).returncode == 1


def test_usage_errors_exit_2(tmp_path):
    corpus(tmp_path)
    assert cleaner("dupes", "data", "--output-format", "xml", cwd=tmp_path).returncode == 2
    assert cleaner("dupes", "data", "--threshold", "1.5", cwd=tmp_path).returncode == 2
    assert cleaner("dupes", "data", "--keep", "newest", cwd=tmp_path).returncode == 2
