"""Whether a links file, its summary and its manifest belong together
(``matcher validate-proposal``): each records the SHA-256 of the links file
it describes, the manifest also the summary's and the inputs'. A kill
between the renames of a proposal's files, or a file copied from another
run, shows here."""

from __future__ import annotations

from pathlib import Path

from matcher.files.paths import input_file_problem
from matcher.errors import Problem
from matcher.files.manifest import read_manifest
from matcher.files.write import manifest_path, sha256_of, summary_path
from matcher.proposals.report import summary_links_sha256


def check_proposal_files(links) -> tuple[list, list[str]]:
    """(problems, what was checked) for a links file, its summary and its
    manifest: each records the SHA-256 of the links file it describes, the
    manifest also the summary's and the inputs'."""
    unreadable = input_file_problem(links, "links file")
    if unreadable is not None:
        return [Problem(str(links), None, None, None, unreadable, code="invalid")], []
    links = Path(links)
    problems, checked = [], []
    digest = sha256_of(links)
    summary_file, manifest_file = summary_path(links), manifest_path(links)

    summary_digest = None
    try:
        recorded = summary_links_sha256(summary_file.read_text(encoding="utf-8"))
        summary_digest = sha256_of(summary_file)
    except (OSError, UnicodeDecodeError):
        problems.append(Problem(str(summary_file), None, None, None, f"the summary of {links.name} beside it; it is "
                                                                   "missing or cannot be read"))
    else:
        if recorded is None:
            problems.append(Problem(str(summary_file), None, None, None, "a summary that records the SHA-256 of "
                                                                       "its links file; this one does not"))
        elif recorded != digest:
            problems.append(Problem(str(summary_file), None, None, recorded,
                                    f"the SHA-256 of {links.name} ({digest}); this summary describes another "
                                    "links file, not the one beside it"))
        else:
            checked.append(f"the summary {summary_file.name} describes {links.name}")

    record = read_manifest(manifest_file)
    if record is None:
        problems.append(Problem(str(manifest_file), None, None, None, f"the manifest of {links.name} beside it; it "
                                                                    "is missing or not a manifest"))
        return problems, checked
    outputs = {Path(str(o.get("path", ""))).name: o.get("sha256") for o in record["outputs"] if isinstance(o, dict)}
    for name, actual, what in ((links.name, digest, "links file"), (summary_file.name, summary_digest, "summary")):
        if actual is None:
            continue
        if name not in outputs:
            others = ", ".join(sorted(outputs)) or "no file"
            problems.append(Problem(str(manifest_file), None, None, None,
                                    f"a manifest that lists {name}; it describes {others}"))
        elif outputs[name] != actual:
            problems.append(Problem(str(manifest_file), None, None, outputs[name],
                                    f"the SHA-256 of the {what} {name} ({actual}); the manifest describes "
                                    "another one"))
        else:
            checked.append(f"the manifest {manifest_file.name} describes {name}")
    for item in record.get("inputs") or []:
        path = item.get("path") if isinstance(item, dict) else None
        if not path:
            continue
        role = item.get("role", "input")
        if not Path(path).is_file():
            checked.append(f"the {role} file {path} is no longer there (not compared)")
        elif sha256_of(path) != item.get("sha256"):
            problems.append(Problem(path, None, None, None,
                                    f"the {role} file the proposal was made from (SHA-256 {item.get('sha256')}); "
                                    "it has changed since"))
        else:
            checked.append(f"the {role} file {path} is unchanged")
    return problems, checked
