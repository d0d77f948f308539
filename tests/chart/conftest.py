"""Render the llm-monitor chart with helm v4 (and v3), once per values file per session.

kube-prometheus-stack cannot be downloaded here, so the chart is copied into a
temporary tree with a stand-in subchart of that name (``fixtures/``) in its
``charts/``. The copy keeps the chart's ``dashboards`` and ``docs`` symlinks, with
the repository's ``dashboards/`` and ``docs/`` copied beside it, so that helm follows
the symlinks as it does in the checkout. When the dashboards or rule files do not
exist yet, a tiny placeholder is made in the temporary tree only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "llm-monitor"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASE = "demo"
NAMESPACE = "llm"
INSTALL_HINT = (
    "run scripts/install-helm.sh (helm v4 into .tools/bin/helm, v3 into .tools/bin/helm3)"
)

# Every values file the chart is rendered with: the defaults, Minikube, one per CI toggle.
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUES_CASES: dict[str, list[Path]] = {
    "defaults": [],
    "minikube": [REPO / "values-minikube.yaml"],
    **{path.name.removesuffix("-values.yaml"): [path] for path in CI_VALUES},
}


def find_helm(major: str = "v4", name: str = "helm") -> str:
    """The helm of that major version: .tools/bin/<name>, else <name> on PATH."""
    candidates = [REPO / ".tools" / "bin" / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            version = subprocess.run(
                [str(candidate), "version", "--short"], capture_output=True, text=True
            ).stdout
            if version.startswith(f"{major}."):
                return str(candidate)
    pytest.fail(f"helm {major} not found on PATH nor at .tools/bin/{name}: {INSTALL_HINT}")


def repo_dashboards() -> list[Path]:
    return sorted((REPO / "dashboards").glob("*.json"))


def repo_rule_files() -> list[Path]:
    return sorted((CHART / "rules").glob("*.yaml"))


@dataclass
class Rendered:
    """The objects of one `helm template` run."""

    objects: list[dict[str, Any]]
    case: str = ""
    by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            self.by_kind.setdefault(obj["kind"], []).append(obj)

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return self.by_kind.get(kind, [])

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]


@dataclass
class Chart:
    """A temporary, renderable copy of the chart."""

    helm: str
    root: Path  # the copied repository tree: root/charts/llm-monitor, root/dashboards
    path: Path
    _cache: dict[tuple[str, ...], Rendered] = field(default_factory=dict)

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.helm, *args], capture_output=True, text=True, cwd=self.root, timeout=120, env=env
        )
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def template_args(self, values: list[Path], sets: list[str]) -> list[str]:
        args = ["template", RELEASE, str(self.path), "--namespace", NAMESPACE]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        return args

    def render(self, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> Rendered:
        key = (*(str(v) for v in values), "--", *sets)
        if key not in self._cache:
            out = self.run(*self.template_args(list(values), list(sets))).stdout
            objects = [doc for doc in yaml.safe_load_all(out) if doc]
            self._cache[key] = Rendered(objects)
        return self._cache[key]

    def render_fails(self, *sets: str) -> str:
        result = self.run(*self.template_args([], list(sets)), check=False)
        assert result.returncode != 0, "helm template accepted values it should reject"
        return result.stderr


PLACEHOLDER_DASHBOARD = {"title": "placeholder", "uid": "placeholder", "panels": []}
PLACEHOLDER_RULES = {
    "groups": [
        {
            "name": "placeholder",
            "rules": [{"alert": "LlmGatewayPlaceholder", "expr": 'absent(up{job="llm-gateway"})'}],
        }
    ]
}


def copy_chart(root: Path, leave_out: set[str]) -> Path:
    """Copy the chart, less the top-level names in leave_out, into root/charts/llm-monitor."""
    target = root / "charts" / "llm-monitor"
    shutil.copytree(
        CHART,
        target,
        symlinks=True,
        ignore=lambda directory, names: (
            leave_out & set(names) if Path(directory) == CHART else set()
        ),
    )
    assert (target / "dashboards").is_symlink(), "charts/llm-monitor/dashboards must be a symlink"
    dashboards = root / "dashboards"
    dashboards.mkdir()
    for path in repo_dashboards():
        shutil.copy2(path, dashboards / path.name)
    if not repo_dashboards():
        (dashboards / "placeholder.json").write_text(json.dumps(PLACEHOLDER_DASHBOARD))
    assert (target / "docs").is_symlink(), "charts/llm-monitor/docs must be a symlink"
    shutil.copytree(REPO / "docs", root / "docs")
    rules = target / "rules"
    rules.mkdir(exist_ok=True)
    if not repo_rule_files():
        (rules / "placeholder.yaml").write_text(yaml.safe_dump(PLACEHOLDER_RULES))
    return target


def chart_copy(root: Path) -> Chart:
    """A renderable copy of the chart under ``root``, with the stand-in subchart, for helm v4."""
    helm = find_helm()
    target = copy_chart(root, {"charts", "Chart.lock"})
    shutil.copytree(FIXTURES / "kube-prometheus-stack", target / "charts" / "kube-prometheus-stack")
    return Chart(helm=helm, root=root, path=target)


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Chart:
    return chart_copy(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def chart_v3(chart: Chart) -> Chart:
    """The same chart copy, driven by helm v3."""
    return Chart(helm=find_helm("v3", "helm3"), root=chart.root, path=chart.path)


@pytest.fixture(scope="session")
def helms(chart: Chart, chart_v3: Chart) -> dict[str, Chart]:
    """The chart copy by helm major version, for tests run with both."""
    return {"v3": chart_v3, "v4": chart}


@pytest.fixture(scope="session")
def render(chart: Chart) -> Callable[..., Rendered]:
    """Render with values files and --set items; each combination once per session."""

    def _render(*values: Path, sets: tuple[str, ...] = ()) -> Rendered:
        return chart.render(values, sets)

    return _render


@pytest.fixture(scope="session")
def shipped_dashboards(chart: Chart) -> list[Path]:
    """The dashboard files the chart copy sees through its symlink."""
    return sorted((chart.path / "dashboards").glob("*.json"))


@pytest.fixture(scope="session")
def shipped_rule_files(chart: Chart) -> list[Path]:
    return sorted((chart.path / "rules").glob("*.yaml"))
