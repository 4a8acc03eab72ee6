"""pyproject.toml metadata and the README's account of the dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_an_spdx_string_that_setuptools_accepts():
    assert PYPROJECT["project"]["license"] == "MIT"
    setuptools = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert int(re.search(r">=\s*(\d+)", setuptools).group(1)) >= 77  # PEP 639 license expressions


def test_readme_gives_each_runtime_dependency_its_job():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Libraries, and why", 1)[1].split("\n## ", 1)[0]
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        assert re.search(rf"^- \*\*{re.escape(name)}\*\*: \S", section, re.MULTILINE), name
