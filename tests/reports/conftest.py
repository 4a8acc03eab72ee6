"""Fixtures of the report tests: the headless browser (tests/browser.py)."""

from tests.browser import browser  # noqa: F401  (the fixture, one per test module)
