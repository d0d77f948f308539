"""The chart as a release ships it: helm v3 renders what helm v4 renders, the default
image is the one the release publishes, and the packaged .tgz installs with nothing but
`helm dependency build` reaching the network.

kube-prometheus-stack cannot be fetched here, so its repository is played by a loopback
HTTP server holding the stand-in subchart (fixtures/), known to a private helm
configuration under the real repository URL: `helm dependency build` then checks
Chart.lock against Chart.yaml and downloads the locked version exactly as it would from
prometheus-community, only from loopback.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import (
    CHART,
    FIXTURES,
    RELEASE,
    REPO,
    VALUES_CASES,
    Chart,
    copy_chart,
)

CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
[DEPENDENCY] = CHART_YAML["dependencies"]
HELMS = ["v3", "v4"]


def objects(rendered_yaml: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered_yaml) if doc]


@pytest.mark.parametrize("case", sorted(VALUES_CASES))
def test_helm_v3_renders_what_helm_v4_renders(chart: Chart, chart_v3: Chart, case: str) -> None:
    values = VALUES_CASES[case]

    assert _generated_hidden(chart_v3.render(values).objects) == _generated_hidden(
        chart.render(values).objects
    )


def _generated_hidden(rendered: list[dict]) -> list[dict]:
    """The objects with what the chart generates afresh on every render (the bundled Redis's
    password, and checksums of it) replaced by a placeholder."""
    text = yaml.safe_dump(rendered)
    for obj in rendered:
        if obj.get("kind") == "Secret" and obj["metadata"]["name"].endswith("-redis"):
            for value in obj.get("data", {}).values():
                text = text.replace(value, "<generated>")
    hidden: list[dict] = yaml.safe_load(text)
    for obj in hidden:
        annotations = (
            obj.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        )
        for key in [k for k in annotations if k.startswith("checksum/")]:
            annotations[key] = "<generated>"
    return hidden


def test_default_image_is_the_published_one_tagged_with_the_app_version(render) -> None:
    for name in (f"{RELEASE}-llm-monitor", f"{RELEASE}-llm-monitor-simulator"):
        deployment = render(sets=("simulator.enabled=true",)).one("Deployment", name)
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"ghcr.io/llm-monitor/llm-gateway:{CHART_YAML['appVersion']}"


def test_an_image_digest_pins_the_image_whatever_the_tag(render) -> None:
    digest = "sha256:" + "ab" * 32
    rendered = render(sets=(f"image.digest={digest}", "image.tag=moved"))
    [container] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]

    assert container["image"] == f"ghcr.io/llm-monitor/llm-gateway@{digest}"


def test_chart_lock_locks_exactly_the_dependencies_of_chart_yaml() -> None:
    lock = yaml.safe_load((CHART / "Chart.lock").read_text())

    assert lock["dependencies"] == [
        {key: DEPENDENCY[key] for key in ("name", "repository", "version")}
    ]
    assert lock["digest"].startswith("sha256:")


@dataclass
class ChartRepository:
    """A private helm home whose repository of kube-prometheus-stack is on loopback."""

    env: dict[str, str]
    server: ThreadingHTTPServer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chart_repository(chart: Chart, tmp_path: Path) -> Iterator[ChartRepository]:
    served = tmp_path / "served"
    chart.run("package", str(FIXTURES / "kube-prometheus-stack"), "--destination", str(served))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chart.run("repo", "index", str(served), "--url", f"http://127.0.0.1:{server.server_port}")
    home = tmp_path / "helm-home"
    (home / "repository").mkdir(parents=True)
    shutil.copy(served / "index.yaml", home / "repository" / "prometheus-community-index.yaml")
    (home / "repositories.yaml").write_text(
        yaml.safe_dump(
            {"repositories": [{"name": "prometheus-community", "url": DEPENDENCY["repository"]}]}
        )
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "HELM_CONFIG_HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REPOSITORY_CONFIG": str(home / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "repository"),
    }
    repository = ChartRepository(env=env, server=server)
    yield repository
    repository.stop()


@pytest.mark.parametrize("major", HELMS)
def test_published_chart_installs_from_its_tgz_with_only_dependency_build_online(
    helms: dict[str, Chart], major: str, chart_repository: ChartRepository, tmp_path: Path
) -> None:
    helm = helms[major]
    checkout = tmp_path / "checkout"
    copy_chart(checkout, {"charts"})  # as committed: with Chart.lock, without charts/
    shutil.copytree(REPO / "scripts", checkout / "scripts")
    shutil.copy(REPO / "pyproject.toml", checkout)

    published = subprocess.run(
        [checkout / "scripts" / "publish-chart.sh"],
        env={**chart_repository.env, "HELM": helm.helm},
        capture_output=True,
        text=True,
        timeout=120,
    )
    chart_repository.stop()  # from here on, nothing is reachable

    assert published.returncode == 0, published.stderr
    [package] = (checkout / "dist").glob("*.tgz")
    assert package.name == f"llm-monitor-{CHART_YAML['version']}.tgz"
    env = chart_repository.env
    with tarfile.open(package) as archive:
        names = set(archive.getnames())
    # helm package stores the downloaded subchart expanded, with the lock beside Chart.yaml.
    assert {
        "llm-monitor/Chart.lock",
        "llm-monitor/charts/kube-prometheus-stack/Chart.yaml",
    } <= names
    lint = helm.run("lint", "--strict", str(package), env=env)
    assert "0 chart(s) failed" in lint.stdout
    rendered = objects(helm.run("template", RELEASE, str(package), env=env).stdout)
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    assert ("Deployment", f"{RELEASE}-llm-monitor") in kinds
    assert ("ConfigMap", "kube-prometheus-stack-stand-in") in kinds


@pytest.mark.parametrize("major", HELMS)
def test_dependency_build_refuses_a_lock_out_of_step_with_chart_yaml(
    helms: dict[str, Chart], major: str, chart_repository: ChartRepository, tmp_path: Path
) -> None:
    source = copy_chart(tmp_path / "checkout", {"charts"})
    chart_yaml = source / "Chart.yaml"
    chart_yaml.write_text(
        chart_yaml.read_text().replace(
            "condition: kube-prometheus", "tags: [x]\n    condition: kube-prometheus"
        )
    )

    result = helms[major].run(
        "dependency", "build", "--skip-refresh", str(source), check=False, env=chart_repository.env
    )

    assert result.returncode != 0
    assert "out of sync" in result.stderr
