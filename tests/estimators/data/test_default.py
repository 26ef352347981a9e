"""The default cache is built once per user, even when several processes start together."""

from __future__ import annotations

import subprocess
import sys

from estimators.data.cache import ClipCache

SCRIPT = """
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs; a program shows what it wants
from estimators.data.default import ensure_default_cache
from estimators.data.synthetic import SynthSettings
print(ensure_default_cache(SynthSettings(classes=2, clips_per_class=3, frames=8, size=16)))
"""


def test_processes_started_together_build_once(tmp_path):
    env = {"NAS_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    assert sum("building the default clip cache" in err for _, err in outputs) == 1
    cache = ClipCache(paths.pop())
    assert len(cache.index) == 6 and not list(tmp_path.glob("*.partial"))
