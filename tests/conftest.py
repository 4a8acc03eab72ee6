"""Shared fixtures: small synthetic regions written to temporary folders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from matcher.generate import generate_region
from matcher.files.write import write_table
from features.contract import CHILDREN, HOUSEHOLDS

AS_OF = dt.date(2026, 6, 30)


def write_region(folder: Path, seed: int = 3, n_children: int = 60, n_households: int = 90,
                 fmt: str = "csv") -> tuple[Path, Path]:
    kids, homes = generate_region(seed, n_children, n_households, AS_OF)
    children, households = folder / f"children.{fmt}", folder / f"households.{fmt}"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    return children, households


@pytest.fixture
def region_files(tmp_path: Path) -> tuple[Path, Path]:
    """A valid 60-child, 90-household region as CSV files."""
    return write_region(tmp_path)


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    from matcher.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
