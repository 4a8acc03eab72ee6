"""The ``matcher`` command line: parse, call the domain API, render."""

from matcher.cli.main import cli, main

__all__ = ["cli", "main"]
