"""The NAS framework: strategies, runner, trial ledger and the ``nas`` command line."""

from spaces._version import __version__

__all__ = ["__version__"]
