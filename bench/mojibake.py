"""Mojibake repair: cleaner.normalise.normalise_text on ftfy's own test cases.

For each case in ftfy's tests/test-cases/*.json, runs `normalise_text(case["original"])` and
compares the result with `fixed`, ftfy's full repair. cleaner runs ftfy with `uncurl_quotes`
turned off (quotes are content), so a result also matches when uncurling its quotes gives `fixed`. Because cleaner also
tidies whitespace, the expected text is first passed through the same whitespace policy
(see `whitespace_policy`); exact (raw) matches are counted too. Cases marked expect=fail
(ftfy's known failures) are skipped and counted.

Run:  python bench/mojibake.py [--data DIR]
DIR defaults to ../shared/data/ftfy_test_cases (from the repo root); cases are read from
DIR/tests/test-cases/*.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from ftfy.fixes import uncurl_quotes
from pathlib import Path

from cleaner.normalise import normalise_text

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ftfy_test_cases"
UPSTREAM = "github.com/rspeer/python-ftfy, path tests/test-cases/"
FILES = ["in-the-wild.json", "synthetic.json", "negative.json", "language-names.json", "known-failures.json"]
QUESTION = {"negative.json": "left untouched?", "in-the-wild.json": "fixed?"}
POLICY = ("each line stripped, runs of spaces/tabs collapsed to one space, "
          "empty lines dropped, lines joined by one blank line")


def whitespace_policy(text: str) -> str:
    """Cleaner's whitespace policy, simplified: one paragraph per line, blank line between."""
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def clip(text: str, width: int = 120) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ftfy test-case folder")
    args = parser.parse_args()

    cases_dir = args.data / "tests" / "test-cases"
    if not cases_dir.is_dir():
        print(f"No ftfy test cases at {cases_dir}.\nGet tests/test-cases/*.json from {UPSTREAM}"
              f" and pass the folder above tests/ with --data DIR.")
        return 0

    print("Mojibake repair with cleaner.normalise.normalise_text")
    print("expected = fixed (ftfy's full repair); cleaner keeps curly quotes, so uncurl(got) == fixed matches too;")
    print("'matched' compares after the whitespace policy:")
    print(f"  {POLICY}\n")
    rows, mismatches, skipped = [], [], 0
    for name in FILES:
        path = cases_dir / name
        if not path.is_file():
            continue
        cases = json.loads(path.read_text(encoding="utf-8"))
        skipped += sum(case["expect"] == "fail" for case in cases)
        cases = [case for case in cases if case["expect"] == "pass"]
        matched = raw = 0
        for case in cases:
            expected = case["fixed"]
            got, _fixes = normalise_text(case["original"])
            raw += expected in (got, uncurl_quotes(got))
            if whitespace_policy(expected) in (got, uncurl_quotes(got)):
                matched += 1
            else:
                mismatches.append((name, case["label"], expected, got))
        rows.append((name, len(cases), matched, raw))

    print(f"{'file':<22} {'cases':>5} {'matched':>7} {'raw':>5}  question")
    for name, n, matched, raw in rows:
        print(f"{name:<22} {n:>5} {matched:>7} {raw:>5}  {QUESTION.get(name, 'fixed?')}")
    total = [sum(col) for col in zip(*(row[1:] for row in rows))]
    print(f"{'total':<22} {total[0]:>5} {total[1]:>7} {total[2]:>5}")
    print(f"skipped (expect=fail, ftfy's known failures): {skipped}")

    print(f"\nMismatches: {len(mismatches)}")
    for name, label, expected, got in mismatches:
        print(f"- [{name}] {label}\n    expected {clip(expected)}\n    got      {clip(got)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
