"""The import rules of the package, read from its source with ``ast``.

* ``core/`` imports only the core, the error tree (``errors``, a leaf), the standard
  library and what it needs of third parties: no web framework, HTTP client or metrics
  library, none of ``http/``, ``routes/``, ``upstream/``, ``metrics/``, ``simulator/``,
  ``settings``, ``app`` or ``cli``. It declares what it needs as protocols of its own.
* ``errors`` and ``faults`` are leaves: they import nothing of the gateway's.
* The request path (what ``llm_gateway.app`` imports, however indirectly) never loads
  ``simulator/``.
* No module imports another's private (``_name``) names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "llm_gateway"
# Third parties the core may not use: the web framework, the HTTP clients, the metrics.
NOT_IN_CORE = frozenset(
    {
        "aiohttp",
        "fastapi",
        "httpx",
        "httpx2",
        "huggingface_hub",
        "prometheus_client",
        "starlette",
        "starlette_exporter",
        "uvicorn",
    }
)
LEAVES = ("llm_gateway.errors", "llm_gateway.faults")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str) -> Iterator[tuple[str, str | None]]:
    """What ``module`` imports, anywhere in it: (module, name) pairs, name None for
    ``import x``; ``from package import submodule`` yields the submodule."""
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            assert node.level == 0, f"{module}: a relative import"
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule, None) if submodule in MODULES else (node.module, alias.name)


def ours(module: str) -> set[str]:
    return {name for name, _ in imported(module) if name.startswith("llm_gateway")}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in MODULES:
            continue
        seen.add(module)
        todo.extend(ours(module))
    return seen


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("llm_gateway.core")])
def test_the_core_imports_only_the_core_the_errors_and_what_it_needs(module: str) -> None:
    for name, _ in imported(module):
        root = name.split(".")[0]
        if root == "llm_gateway":
            assert name.startswith("llm_gateway.core") or name == "llm_gateway.errors", (
                f"{module} imports {name}"
            )
        else:
            assert root not in NOT_IN_CORE, f"{module} imports {name}"


@pytest.mark.parametrize("module", LEAVES)
def test_the_error_tree_and_the_fault_contract_are_leaves(module: str) -> None:
    assert ours(module) == set()


def test_the_request_path_loads_no_simulator_code() -> None:
    path = reachable("llm_gateway.app")
    assert {"llm_gateway.core.gateway", "llm_gateway.upstream.client"} <= path
    assert not {m for m in path if m.startswith("llm_gateway.simulator")}


def test_importing_the_app_loads_no_simulator_module() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, llm_gateway.app; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "llm_gateway.app" in loaded
    assert not [m for m in loaded if m.startswith("llm_gateway.simulator")]


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_another_modules_private_names(module: str) -> None:
    for source, name in imported(module):
        if source.startswith("llm_gateway") and source != module:
            private = name if name is not None else source.rsplit(".", 1)[-1]
            assert not (private.startswith("_") and not private.startswith("__")), (
                f"{module} imports {source}.{name}"
            )
