"""The README's promises that code can check."""

from pathlib import Path

from features.contract import readme_tables

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_column_tables_come_from_the_schema():
    assert readme_tables() in README.read_text(encoding="utf-8")


def test_readme_gives_exactly_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    block = text.split("## Set up on a new machine", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
