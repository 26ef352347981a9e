"""A digest of the code that decides results, so that a fingerprint changes when results would.

A version string is not enough: the training loop, the data reading and the
model builders change between releases (and between commits) while it stays
the same, and a resumed search or an extended benchmark table would then mix
results of old and new code.  The digest hashes the source of the modules that
decide a result, read from their files without importing anything, so
changing one starts a new study or table instead.

Only code that changes what a training measures is listed: a change to the
command line, the reports or the ledger keeps every study resumable.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

#: The toolkit's modules whose code decides a proxy result: the training loop and its schedule, the layers it
#: builds with, multi-process training, and how clips are read and decoded from a cache.
RESULT_MODULES = (
    "estimators.training",
    "estimators.proxy",
    "estimators.layers",
    "estimators.distributed",
    "estimators.data.dataset",
    "estimators.data.cache",
    "estimators.data.codecs",
)


def module_files(modules: Iterable[str]) -> list[tuple[str, Path]]:
    """``(module name, source file)`` of each module (a package gives every ``.py`` file of its folder)."""
    found = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"no module {name!r} to take a code digest of")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: all of its own files
            found += [(f"{name}.{path.stem}", path) for path in sorted(origin.parent.glob("*.py"))]
        else:
            found.append((name, origin))
    return found


def digest_of(files: Sequence[tuple[str, Path]]) -> str:
    """A short hash of the files' names and bytes (names, not paths: the same code in another folder matches)."""
    hasher = hashlib.sha256()
    for name, path in sorted(files):
        hasher.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()[:16]


@lru_cache(maxsize=None)
def code_digest(modules: tuple[str, ...] = RESULT_MODULES) -> str:
    """The digest of the toolkit's result-deciding code (computed once per process)."""
    return digest_of(module_files(modules))
