"""The NAS framework: strategies, runner, trial ledger, the ``nas`` command line and its Python API.

    import nas
    result = nas.search(space="x3d", strategy="coordinate")   # SearchResult: chosen point, path, trials
    nas.load(result.study, storage=result.storage)             # read a finished or killed search back
    nas.compare(strategies="coordinate,random", seeds=2)       # strategies on the installed benchmark table
    nas.build_table("t.h5", points=20, time_limit="1h")        # train a benchmark table (resumable)

The API is imported on first use, so ``import nas`` stays light (no torch).
"""

from spaces._version import __version__

__all__ = [
    "__version__",
    "search",
    "load",
    "compare",
    "build_table",
    "SearchResult",
    "SearchConfig",
    "NasError",
    "RunFailure",
]

_API = {
    "search": "api",
    "load": "api",
    "compare": "api",
    "build_table": "api",
    "SearchResult": "api",
    "SearchConfig": "config",
}
_ERRORS = ("NasError", "RunFailure")


def __getattr__(name: str):
    if name in _API:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_API[name]}"), name)
    if name in _ERRORS:
        import spaces.errors

        return getattr(spaces.errors, name)
    raise AttributeError(f"module 'nas' has no attribute {name!r}")
