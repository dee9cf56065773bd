"""Subcommands of the `station` CLI: each module has `add_arguments(parser)` and `run(args) -> int`."""
