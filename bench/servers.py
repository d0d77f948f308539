"""The processes under test: started pinned to one core, read from /proc, stopped by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
READY_SECONDS = 30.0
STOP_SECONDS = 10.0


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process (all its threads) so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_bytes(self) -> int:
        return int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE_BYTES

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)


def core_busy_seconds(core: int) -> float:
    """Time the core spent on any work (all processes, interrupts, steal) since boot."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
            return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
    raise RuntimeError(f"no cpu{core} line in /proc/stat")


def start(
    name: str,
    argv: list[str],
    *,
    port: int,
    core: int,
    ready_path: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> Server:
    """Run ``argv`` under ``taskset -c core`` (which execs it: the pid is the server's)."""
    log = (log_dir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *argv],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = Server(name, f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(server.url + ready_path, timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} was not ready within {READY_SECONDS:.0f} s; see {log.name}")
