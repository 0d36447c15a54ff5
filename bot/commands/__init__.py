"""Subcommands of the ``signoff`` CLI. Each module exposes ``register(subparsers)``."""
