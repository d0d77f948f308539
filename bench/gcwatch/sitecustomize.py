"""The cycle collector's passes in a benchmarked server: on ``PYTHONPATH`` (bench/sweep.py
puts this directory there for the gateway), Python imports it at startup. Each pass is a
line in the file ``GC_LOG`` names: its end (wall clock, s), its generation, how long the
event loop stood still for it (ms), and the objects it freed. Not part of the gateway."""

import gc
import os
import time

_path = os.environ.get("GC_LOG")
if _path:
    _log = open(_path, "a", buffering=1)  # for the process's life
    _began = 0.0

    def _watch(phase: str, info: dict[str, int]) -> None:
        global _began
        if phase == "start":
            _began = time.perf_counter()
            return
        ms = (time.perf_counter() - _began) * 1000
        _log.write(f"{time.time():.4f} {info['generation']} {ms:.2f} {info['collected']}\n")

    gc.callbacks.append(_watch)
