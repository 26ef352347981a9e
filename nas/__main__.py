"""``python -m nas``: the same as the ``nas`` console script."""

from .cli import entry

entry()
