"""How a file was made: the manifest beside every result (CONTRACT.md,
"Ids, explanations, near misses and manifests").

``X.manifest.json`` beside ``X.csv`` lists the inputs with their SHA-256,
``--as-of``, every option (by its domain name), the weights' SHA-256, the
matcher version and the SHA-256 of each output. It holds nothing that
changes from run to run (no times), so the same command on the same input
writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from matcher.files.write import sha256_of


def matcher_version() -> str:
    """The installed matcher's version ("unknown" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("matcher")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


@dataclass(frozen=True)
class Provenance:
    """What a command was given: its name, its input files (role -> path),
    the as-of date, every option by its domain name (JSON values), and the
    weights' SHA-256 (of their content; see :func:`matcher.api.weights_sha256`)
    and file, when the command scores."""

    command: str
    inputs: tuple[tuple[str, str], ...] = ()
    as_of: dt.date | None = None
    options: dict = field(default_factory=dict)
    weights_sha256: str | None = None
    weights_file: str | None = None
    store: str | None = None
    """The register the tables came from (store mode): where it is, without
    any password, and its data version."""

    def input_hashes(self) -> list[dict]:
        """``[{"role", "path", "sha256"}]`` of every input, read now (an
        input can change between runs; the manifest records what was read).
        Paths are absolute, so a manifest names its inputs wherever it is
        read from."""
        return [{"role": role, "path": os.path.abspath(path), "sha256": sha256_of(path)}
                for role, path in self.inputs]


def manifest(made: Provenance, inputs: list[dict], outputs: list[tuple[Path, str]]) -> dict:
    """The manifest as a dict, keys in the contract's order (then the
    extensions ``command`` and ``weights_file``)."""
    record = {
        "inputs": inputs,
        "as_of": made.as_of.isoformat() if made.as_of else None,
        "options": made.options,
        "weights_sha256": made.weights_sha256,
        "version": matcher_version(),
        "outputs": [{"path": os.path.abspath(path), "sha256": digest} for path, digest in outputs],
        "command": made.command,
        "weights_file": os.path.abspath(made.weights_file) if made.weights_file else None,
    }
    if made.store is not None:
        record["store"] = made.store
    return record


def manifest_text(record: dict) -> str:
    """The manifest as JSON text (indented, one trailing newline)."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def read_manifest(path: str | os.PathLike) -> dict | None:
    """A manifest's content, or None when it is missing or not a manifest."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("outputs"), list) else None
