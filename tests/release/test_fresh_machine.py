"""A fresh machine: `scripts/test` installs every tool the suite needs, and
scripts/test-fresh (a clean clone in a bare Debian container, minutes: not run here)
checks it by running the README's test command where none of those tools is installed.

These tests keep the two honest cheaply: what the bare container holds, what the bootstrap
installs and in which order, and that Node.js is asked of apt when it is missing.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"


def bash_array(script: Path, name: str) -> list[str]:
    """The words of a one-statement bash array assignment `name=(...)` in a script."""
    match = re.search(rf"^{name}=\(([^)]*)\)", script.read_text(), re.MULTILINE)
    assert match, f"{script.name} has no {name}=(...)"
    return shlex.split(match.group(1), comments=True)


def bootstrap_test_installers() -> list[str]:
    """The install scripts `scripts/bootstrap.sh test` runs, in order."""
    text = (SCRIPTS / "bootstrap.sh").read_text()
    return re.findall(r"^\s+scripts/(install-[\w-]+\.sh)", text, re.MULTILINE)


def apt_installs() -> dict[str, tuple[str, list[str]]]:
    """For each installer that goes through apt-install.sh: its Debian package and binaries."""
    found = {}
    for name in bootstrap_test_installers():
        match = re.search(r'apt-install\.sh"?\s+(.+)$', (SCRIPTS / name).read_text(), re.MULTILINE)
        if match:
            package, *binaries = shlex.split(match.group(1))
            found[name] = (package, binaries)
    return found


def readme_test_command() -> list[str]:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"^Run the tests .*?```sh\n(.*?)\n```", readme, re.MULTILINE | re.DOTALL)
    assert match, "the README's test command block"
    return shlex.split(match.group(1))


def test_test_fresh_runs_the_readme_test_command_which_ci_runs() -> None:
    command = readme_test_command()

    assert bash_array(SCRIPTS / "test-fresh", "test_command") == command
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert shlex.split(ci[-1]) == command


def test_the_bare_container_holds_none_of_the_tools_the_bootstrap_installs() -> None:
    packages = set(bash_array(SCRIPTS / "test-fresh", "packages"))
    installed = apt_installs()
    tools = {binary for _, binaries in installed.values() for binary in binaries}

    assert {"python3", "python3-venv", "python3-pip", "git"} <= packages
    assert packages.isdisjoint(package for package, _ in installed.values())
    assert packages.isdisjoint(tools | {"nodejs", "helm"})
    assert {"node", "npm", "prometheus", "promtool", "redis-server"} <= tools


def test_the_bootstrap_installs_node_and_npm_before_the_tools_that_need_them() -> None:
    order = bootstrap_test_installers()
    [node_installer] = [name for name, (_, bins) in apt_installs().items() if "npm" in bins]
    needs_npm = [name for name in order if "npm install" in (SCRIPTS / name).read_text()]

    assert needs_npm, "the npm-installed tools"
    assert all(order.index(node_installer) < order.index(name) for name in needs_npm)


def test_without_node_on_path_the_installer_asks_apt_for_npm_as_root() -> None:
    # A PATH with neither node nor npm, and a non-root user: the installer must go to
    # apt-get (and say it needs root) rather than find nothing to do. The two scripts are
    # copied where that user can read them (the checkout may be under a private home).
    with tempfile.TemporaryDirectory() as work:  # unlike tmp_path, readable by that user
        os.chmod(work, 0o755)
        bin_dir = Path(work)
        for tool in ("dirname", "id"):
            found = shutil.which(tool)
            assert found, tool
            (bin_dir / tool).symlink_to(found)
        for script in ("install-node.sh", "apt-install.sh"):
            shutil.copy2(SCRIPTS / script, bin_dir / script)
        command = [str(bin_dir / "install-node.sh")]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            assert setpriv, "setpriv (util-linux) to drop root"
            command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]

        result = subprocess.run(
            command, env={"PATH": work}, capture_output=True, text=True, timeout=30
        )

    assert result.returncode == 1
    assert "already installed" not in result.stdout
    assert "installing npm must run as root (apt-get install)" in result.stderr
