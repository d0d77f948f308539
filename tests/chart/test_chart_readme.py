"""The chart for its readers: README, Chart.yaml metadata and NOTES that point inside it.

charts/llm-monitor/README.md's Parameters section is generated from values.yaml's
`## @param` comments by readme-generator-for-helm (scripts/install-readme-generator.sh
puts it into .tools/bin); the tool also refuses a value without its comment. NOTES
name documents that `helm package` really ships.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, REPO, Chart

GENERATOR = REPO / ".tools" / "bin" / "readme-generator"


def generator() -> str:
    if not GENERATOR.exists():
        pytest.fail("readme-generator missing: run scripts/install-readme-generator.sh")
    return str(GENERATOR)


def generate(values: Path, readme: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [generator(), "--values", str(values), "--readme", str(readme)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_parameters_are_what_values_yaml_documents(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    result = generate(CHART / "values.yaml", readme)
    assert result.returncode == 0, result.stdout + result.stderr
    assert readme.read_text() == (CHART / "README.md").read_text(), (
        "stale: run .tools/bin/readme-generator -v charts/llm-monitor/values.yaml "
        "-r charts/llm-monitor/README.md"
    )
    assert "| `prometheusRule.selector`" in readme.read_text()


def test_a_value_without_its_comment_is_refused(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text((CHART / "values.yaml").read_text() + "undocumented: 1\n")
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    result = generate(values, readme)
    assert result.returncode != 0
    assert "Missing metadata for key: undocumented" in result.stdout + result.stderr


def test_chart_yaml_names_home_sources_maintainers_and_icon() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["home"].startswith("https://")
    assert chart["sources"] and all(s.startswith("https://") for s in chart["sources"])
    assert chart["maintainers"] and all(m["name"] for m in chart["maintainers"])
    assert chart["icon"].startswith("https://") and chart["icon"].endswith("docs/icon.svg")
    assert (REPO / "docs" / "icon.svg").is_file()


def test_notes_point_to_documents_the_package_ships(chart: Chart, tmp_path: Path) -> None:
    notes = chart.run("install", "demo", str(chart.path), "--dry-run", "-n", "llm").stdout
    named = set(re.findall(r"\b((?:docs/)?[A-Za-z]+\.md)\b", notes))
    assert {"README.md", "docs/runbooks.md", "docs/metrics.md", "docs/kubernetes.md"} <= named
    chart.run("package", str(chart.path), "--destination", str(tmp_path))
    [package] = tmp_path.glob("llm-monitor-*.tgz")
    with tarfile.open(package) as archive:
        shipped = set(archive.getnames())
    assert {f"llm-monitor/{name}" for name in named} <= shipped
