"""Subcommands of ``nas``; each module has ``register(subparsers)``."""
