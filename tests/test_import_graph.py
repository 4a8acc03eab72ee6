"""The rooms and the flow (README, "How the code is laid out"): data flows
contract -> features -> solvers -> domain -> front ends, and nothing imports
upward. Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "solvers", "matcher")
FRONT_ENDS = ("matcher.cli", "matcher.web")

# Layers of the domain, bottom to top: a module may import its own layer
# and those below it, never one above.
LAYERS = (
    ("features", "solvers"),
    ("matcher", "matcher.errors", "matcher.frozen", "matcher.pool", "matcher.ranges"),
    ("matcher.validation", "matcher.files"),
    ("matcher.region", "matcher.summary", "matcher.generate"),
    ("matcher.scoring",),
    ("matcher.options",),
    ("matcher.proposals", "matcher.exchange"),
    ("matcher.store",),
    ("matcher.reports",),
    ("matcher.api",),
    FRONT_ENDS,
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, absolute or relative."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def _modules() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _layer(module: str) -> int | None:
    """The layer of ``module``: the one naming the longest prefix of it (the
    package root ``matcher`` names only its own ``__init__``)."""
    best, found = -1, None
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or (p != "matcher" and _within(module, p))) and len(p) > best:
                best, found = len(p), i
    return found


GRAPH = _modules()


def test_the_graph_was_read():
    assert "matcher.api" in GRAPH and "matcher.cli.main" in GRAPH and "solvers.matching" in GRAPH
    assert "matcher.api" in GRAPH["matcher.cli.main"]
    assert _layer("matcher.cli.main") > _layer("matcher.api") > _layer("matcher.proposals.propose") \
        > _layer("matcher.scoring.scorer") > _layer("matcher.region") > _layer("matcher.errors") > _layer("solvers")


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _within(m, "features") or _within(m, "solvers")))
def test_features_and_solvers_never_import_the_domain(module):
    upward = sorted(m for m in GRAPH[module] if _within(m, "matcher"))
    assert not upward, f"{module} imports {upward}"
    if _within(module, "solvers"):
        sideways = sorted(m for m in GRAPH[module] if _within(m, "features"))
        assert not sideways, f"{module} imports {sideways}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_front_end_or_a_layer_above_its_own(module):
    own = _layer(module)
    assert own is not None, f"{module} belongs to no layer: add it to LAYERS"
    for target in sorted(GRAPH[module]):
        if any(_within(target, f) for f in FRONT_ENDS):
            assert any(_within(module, f) for f in FRONT_ENDS), f"{module} imports the front end {target}"
        layer = _layer(target)
        if layer is not None:
            assert layer <= own, f"{module} imports {target}, which stands above it"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if any(_within(m, f) for f in FRONT_ENDS)))
def test_front_ends_reach_the_domain_only_through_the_api(module):
    past = sorted(t for t in GRAPH[module]
                  if _within(t, "matcher") and not _within(t, "matcher.api") and t != "matcher"
                  and not any(_within(t, f) for f in FRONT_ENDS))
    past += sorted(t for t in GRAPH[module] if _within(t, "features") or _within(t, "solvers"))
    assert not past, f"{module} reaches past matcher.api into {past}"
