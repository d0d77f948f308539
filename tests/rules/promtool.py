"""Running promtool's rule unit tests against rules rendered for any selector.

The unit tests beside this module are written for the default job, llm-gateway:
every occurrence of that name in them is the job label (of an input series, of an
expected alert, or of a description that prints it). `retarget` rewrites a test
for another job, and `run_unit_test` runs a test against rule files held in
memory, the way the chart or scripts/render_rules.py rendered them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

DEFAULT_JOB = "llm-gateway"


def retarget(test_file: Path, job: str) -> dict[str, Any]:
    """The unit test file, as written for the job `job` instead of the default one."""
    data = yaml.safe_load(test_file.read_text().replace(DEFAULT_JOB, job))
    assert isinstance(data, dict)
    return data


def run_unit_test(
    promtool: str, test: dict[str, Any], rules: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on `test`, with `rules` (file name -> text) as its rule files.

    The test's rule_files are replaced by the bare names of the files it named.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for name, text in rules.items():
        (workdir / name).write_text(text)
    test = {**test, "rule_files": [Path(f).name for f in test["rule_files"]]}
    missing = set(test["rule_files"]) - set(rules)
    assert not missing, f"the unit test needs rule files that were not rendered: {missing}"
    (workdir / "unit_test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run(
        [promtool, "test", "rules", "unit_test.yaml"],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=120,
    )
