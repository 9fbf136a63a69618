"""Instruction counts under valgrind's callgrind, for the cost benchmarks: the same count for the same
code however busy the machine is (only string hashing moves it, by a fraction of a percent)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def instructions(script: str, *args: str, seed: int | None = None) -> int:
    """The instructions ``python script args...`` runs, in all (its start-up included); ``seed``
    fixes PYTHONHASHSEED."""
    env = dict(os.environ) if seed is None else {**os.environ, "PYTHONHASHSEED": str(seed)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                        script, *args], check=True, capture_output=True, timeout=1800, env=env)
        summary = next(line for line in out.read_text().splitlines() if line.startswith("summary:"))
    return int(summary.split()[1])
