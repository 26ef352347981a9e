"""The default clip caches: the synthetic datasets, built once per user under a file lock.

They live in ``$NAS_CACHE_DIR`` (default ``~/.cache/videonas``) under a name
derived from the generator settings (``synth-…`` for the action clips,
``synthimg-…`` for the images), so each space's default has its own cache.  Processes started together take the
same lock: one builds, the others wait and then read the finished cache.  A
build goes into a temporary folder that is renamed into place when complete,
so a reader never sees a half-built default cache.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CacheError
from .ingest import build_synthetic
from .synthetic import SynthSettings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .synthetic_images import ImageSynthSettings

CACHE_DIR_VARIABLE = "NAS_CACHE_DIR"
DEFAULT_CODEC = "raw"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_VARIABLE) or Path.home() / ".cache" / "videonas").expanduser()


def default_cache_path(settings: "SynthSettings | ImageSynthSettings" = SynthSettings()) -> Path:
    return default_cache_dir() / f"{settings.fingerprint()}-{DEFAULT_CODEC}"


def ensure_default_cache(settings: "SynthSettings | ImageSynthSettings" = SynthSettings(), *, workers: int = 1) -> Path:
    """The path of the default cache, building it first if no process has yet."""
    target = default_cache_path(settings)
    if (target / "data.mdb").is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f".{target.name}.lock", "w")
    except OSError as error:
        raise CacheError(
            f"cannot use the cache folder {target.parent} ({error.strerror}); "
            f"set {CACHE_DIR_VARIABLE} to a writable folder"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait here
        if not (target / "data.mdb").is_file():
            logging.getLogger(__name__).info(
                f"building the default clip cache in {target} (once per user; set {CACHE_DIR_VARIABLE} to move it)"
            )
            partial = target.with_name(target.name + ".partial")
            build_synthetic(partial, settings, codec=DEFAULT_CODEC, workers=workers)  # resumable if a builder died
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial, target)
    return target
