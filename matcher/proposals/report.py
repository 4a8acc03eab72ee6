"""The summary beside a proposal: what was proposed, what was not and why
(naming the side constraint that kept a unit out), fees by agency, how the
solver did, and how the proposal was made; and writing the links, the
summary and the manifest together.

Option names in the summary are written ``{option:NAME}`` (the domain's
names) and rendered by the caller's ``names`` (a CLI maps ``min_score`` to
``--min-score``), as for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from matcher.errors import name_options
from matcher.files.manifest import Provenance
from matcher.region import Region
from matcher.scoring.explain import children_words, money

AGE_BANDS = ((0, 12, "under 1"), (12, 60, "1–4"), (60, 120, "5–9"), (120, 10_000, "10 and over"))
NEED_BANDS = ("no additional needs", "mild needs", "moderate needs", "severe or complex needs")

LINKS_SHA_LINE = "  links file SHA-256: "
"""How the summary names the links file it describes (one line, then 64
hex digits), so a summary that does not belong to the links beside it can
be found (:func:`summary_links_sha256`)."""


def _unit_table(region: Region) -> pl.DataFrame:
    arrays = region.unit_arrays
    youngest = arrays.column("age_min_months")
    band = np.select([(youngest >= lo) & (youngest < hi) for lo, hi, _ in AGE_BANDS],
                     [name for _, _, name in AGE_BANDS], default="10 and over")
    return pl.DataFrame({
        "unit_id": arrays.unit_ids.astype(str),
        "size": arrays.int_column("size"),
        "age_band": band,
        "need_band": np.array(NEED_BANDS)[arrays.needs.max(axis=1)],
        "waiting": arrays.bool_column("waiting"),
        "agency_id": region.units["agency_id"].to_numpy(),
    })


# --- why a unit was left out ---------------------------------------------------------------------------------------

@dataclass
class _Placed:
    """What the proposal committed, by row: who took each household, the
    fees spent per child's agency, and where each unit went."""

    taken_by: dict[int, tuple[int, int]]  # household row -> (unit row, weight)
    household_of: dict[int, int]  # unit row -> household row
    fee_of: dict[int, int]  # unit row -> fee of its link
    spent: dict[str, int]  # child's agency -> fees of its proposed links
    fixed: set[tuple[int, int]]  # (unit row, household row) of fixed links


def _placed(region: Region, proposal) -> _Placed:
    links = proposal.links
    units = [region.unit_row_of_id[u] for u in links["unit_id"].to_list()]
    homes = [region.household_row_of_id[h] for h in links["household_id"].to_list()]
    agencies = region.units["agency_id"].to_numpy()
    fees = [int(f) for f in links["fee"].to_list()]
    spent: dict[str, int] = {}
    for u, fee in zip(units, fees):
        spent[agencies[u]] = spent.get(agencies[u], 0) + fee
    fixed = {(region.unit_row_of_id[u], region.household_row_of_id[h]) for u, h in proposal.request.fixed
             if u in region.unit_row_of_id and h in region.household_row_of_id}
    return _Placed(dict(zip(homes, zip(units, links["weight"].to_list()))), dict(zip(units, homes)),
                   dict(zip(units, fees)), spent, fixed)


class _Blockers:
    """Which side constraint stops a unit taking a household."""

    def __init__(self, region: Region, proposal, placed: _Placed):
        self.region, self.request, self.placed = region, proposal.request, placed
        self.stopped = getattr(proposal, "stopped", False)
        self.agencies = region.units["agency_id"].to_numpy()
        self.groups = region.units["sibling_group_id"].to_numpy()
        self.sizes = region.units["size"].to_numpy()
        self.hids = region.household_arrays.household_ids
        self.uids = region.unit_arrays.unit_ids
        self.siblings: dict[str, list[int]] = {}
        if self.request.sibling_contact_km is not None:
            for row, (group, size) in enumerate(zip(self.groups, self.sizes)):
                if group is not None and size == 1:
                    self.siblings.setdefault(group, []).append(row)

    def budget(self, unit: int, household: int, fee: int, freed_by: int | None) -> str | None:
        """Words for the budget the link would break, or None; ``freed_by``
        is the unit whose link would make way for it (its fee comes back)."""
        agency = self.agencies[unit]
        budget = self.request.budgets.get(agency)
        if budget is None or fee == 0:
            return None
        spent = self.placed.spent.get(agency, 0)
        if freed_by is not None and self.agencies[freed_by] == agency:
            spent -= self.placed.fee_of[freed_by]
        if spent + fee <= budget:
            return None
        return (f"agency {agency}'s budget ({{option:budgets}} {agency}={budget}): {money(spent)} of it is "
                f"committed to proposed links, and a link to {self.hids[household]} would add a fee of {money(fee)}")

    def sibling(self, unit: int, household: int, moved: int | None) -> str | None:
        """Words for the sibling who would be too far away, or None."""
        km = self.request.sibling_contact_km
        group = self.groups[unit]
        if km is None or group is None or self.sizes[unit] != 1:
            return None
        from features.geo import further_than, haversine_km

        xyz = self.region.household_arrays.xyz
        lat, lon = self.region.households["lat"].to_numpy(), self.region.households["lon"].to_numpy()
        worst = None
        for other in self.siblings.get(group, []):
            there = self.placed.household_of.get(other)
            if other == unit or other == moved or there is None:
                continue
            if further_than(xyz[household], xyz[there], km)[0, 0]:
                d = float(haversine_km(lat[household], lon[household], lat[there], lon[there]))
                if worst is None or d > worst[0]:
                    worst = (d, other, there)
        if worst is None:
            return None
        d, other, there = worst
        return (f"{{option:sibling_contact_km}} {km:g}: with {self.hids[household]}, its sibling {self.uids[other]} "
                f"(proposed to {self.hids[there]}) would be {d:.1f} km away")


def _set_aside(request, region: Region, options: list[tuple[int, float, int, int]]) -> str:
    """Why every eligible household of a unit was set aside by the request
    (``options`` are (household row, score, weight, fee))."""
    below = [o for o in options if request.min_score is not None and o[1] < request.min_score]
    rest = [o for o in options if o not in below]
    parts = []
    if below:
        best = max(o[1] for o in below)
        parts.append(f"{len(below)} by {{option:min_score}} {request.min_score:g} (the best of them scores "
                     f"{best:.1f})")
    if rest:
        named = ", ".join(sorted(str(region.household_arrays.household_ids[o[0]]) for o in rest)[:3])
        more = f" and {len(rest) - 3} more" if len(rest) > 3 else ""
        parts.append(f"{len(rest)} by {{option:excluded}} ({named}{more})")
    what = ("its only eligible household was" if len(options) == 1 else "both its eligible households were"
            if len(options) == 2 else f"all {len(options)} of its eligible households were")
    return f"{what} set aside: " + "; ".join(parts)


def unproposed_reasons(region: Region, proposal) -> list[tuple[str, str]]:
    """(unit_id, why) for every waiting unit left without a link. A side
    constraint that kept a unit out is named: which agency's budget, which
    sibling would be how far away, which fixed link; a unit whose every
    eligible household was set aside says whether by the minimum score or
    by exclusions."""
    scores = proposal.candidates
    request = proposal.request
    placed = _placed(region, proposal)
    blockers = _Blockers(region, proposal, placed)
    is_proposed = np.zeros(len(region.unit_arrays), dtype=bool)
    is_proposed[list(placed.household_of)] = True
    left_out = ~is_proposed[scores.units]
    # Only the pairs of units left out are looked at: a handful, not millions.
    eligible_by_unit: dict[int, list[tuple[int, float, int, int]]] = {}
    for u, h, s, w, f in zip(scores.units[left_out].tolist(), scores.households[left_out].tolist(),
                             scores.score[left_out].tolist(), scores.weight[left_out].tolist(),
                             scores.fee[left_out].tolist()):
        eligible_by_unit.setdefault(u, []).append((h, s, w, f))
    hids = region.household_arrays.household_ids
    excluded = set(request.excluded)
    out = []
    for row in region.waiting_unit_rows.tolist():
        unit = str(region.unit_arrays.unit_ids[row])
        if row in placed.household_of:
            continue
        options = eligible_by_unit.get(row, [])
        if not options:
            out.append((unit, "no eligible household at all"))
            continue
        kept = [o for o in options if (request.min_score is None or o[1] >= request.min_score)
                and (unit, str(hids[o[0]])) not in excluded]
        if not kept:
            out.append((unit, _set_aside(request, region, options)))
            continue
        out.append((unit, _why_not_placed(region, unit, row, kept, placed, blockers)))
    return out


def _why_not_placed(region, unit, row, kept, placed: _Placed, blockers: _Blockers) -> str:
    hids = region.household_arrays.household_ids
    uids = region.unit_arrays.unit_ids
    competed, blocked = [], {}
    for h, _, w, fee in sorted(kept, key=lambda o: (-o[2], str(hids[o[0]]))):
        taker = placed.taken_by.get(h)
        if taker is not None and (taker[0], h) in placed.fixed:
            blocked.setdefault("fixed", f"the fixed link {uids[taker[0]]}={hids[h]} ({{option:fixed}}), which "
                                        f"holds {hids[h]}")
            continue
        if taker is not None and w <= taker[1]:
            competed.append((h, w, taker))
            continue
        # Free, or held by a link of lower weight: only a side constraint
        # (or a search stopped early) explains why this unit did not take it.
        why = blockers.budget(row, h, fee, taker[0] if taker else None)
        if why:
            blocked.setdefault("budget", why)
            continue
        why = blockers.sibling(row, h, taker[0] if taker else None)
        if why:
            blocked.setdefault("sibling", why)
            continue
        if w <= 0:
            continue
        blocked.setdefault("time", "the time limit ({option:time_limit_s}): the search stopped before it placed "
                                   "this unit" if blockers.stopped else
                                   "the side constraints taken together (no single one explains it)")
    if blocked:
        return "kept out by " + "; and by ".join(blocked[k] for k in ("budget", "sibling", "fixed", "time")
                                                 if k in blocked)
    best = competed[:3]
    named = "; ".join(f"{hids[h]} went to {uids[t[0]]} (weight {t[1]} vs {w} here)" for h, w, t in best)
    more = f" and {len(kept) - 3} more" if len(kept) > 3 else ""
    which = "its only eligible household" if len(kept) == 1 else f"every one of its {len(kept)} eligible households"
    return f"{which} went to another unit in the best overall proposal: {named}{more}"


# --- the summary ----------------------------------------------------------------------------------------------------

def _option_words(request) -> list[str]:
    """Every option of the request, in words ({option:NAME} value)."""
    def pairs(values) -> str:
        return ", ".join(f"{u}={h}" for u, h in values) or "none"

    budgets = ", ".join(f"{a}={v}" for a, v in sorted(request.budgets.items())) or "none"
    shown = [
        ("budgets", budgets),
        ("min_score", "none" if request.min_score is None else f"{request.min_score:g}"),
        ("fixed", pairs(request.fixed)),
        ("excluded", pairs(request.excluded)),
        ("sibling_contact_km", "none" if request.sibling_contact_km is None else f"{request.sibling_contact_km:g} km"),
        ("shortlist", "none" if request.shortlist is None else str(request.shortlist)),
        ("time_limit_s", f"{request.config.time_limit_s:g} s"),
        ("workers", str(request.config.workers)),
        ("seed", str(request.config.seed)),
    ]
    if getattr(request, "candidates", None) is not None:
        shown.append(("candidates", str(request.candidates)))
    return [f"{{option:{name}}} {value}" for name, value in shown]


def provenance_lines(made: Provenance | None, inputs: list[dict], links_sha256: str, request) -> list[str]:
    """"How this was made": the manifest in words."""
    from matcher.files.manifest import matcher_version

    lines = ["How this was made:",
             f"  matcher {matcher_version()}" + (f", as of {made.as_of.isoformat()}" if made and made.as_of else "")]
    for item in inputs:
        lines.append(f"  {item['role']} file {item['path']}, SHA-256 {item['sha256']}")
    if not inputs and made and made.store:
        lines.append(f"  inputs: the register {made.store}")
    elif not inputs:
        lines.append("  inputs: tables given in memory (no files)")
    if made and made.weights_sha256:
        source = f"the file {made.weights_file}" if made.weights_file else "the defaults"
        lines.append(f"  weights: {source}; their content's SHA-256 {made.weights_sha256}")
    lines.append("  options: " + "; ".join(_option_words(request)))
    lines.append(LINKS_SHA_LINE + links_sha256)
    return lines


def proposal_summary(region: Region, proposal, links_sha256: str | None = None, made: Provenance | None = None,
                     inputs: list[dict] | None = None, names: dict | None = None) -> str:
    """The summary as text. It holds nothing that changes between runs of
    the same input (no times), so the file is byte-identical each time.
    With ``links_sha256`` it ends by saying how it was made and which links
    file (by its SHA-256) it describes."""
    units = _unit_table(region)
    waiting = units.filter(pl.col("waiting"))
    proposed = waiting.filter(pl.col("unit_id").is_in(proposal.links["unit_id"].unique().to_list()))
    children_waiting = int(waiting["size"].sum())
    children_proposed = int(proposed["size"].sum())
    lines = []
    shortlist = proposal.request.shortlist
    kind = f"shortlist of up to {shortlist}" if shortlist else "proposal"
    n_links = proposal.links.height
    lines.append(f"Batch {kind} as of {region.as_of.isoformat()}: {n_links} link{'s' if n_links != 1 else ''}")
    lines.append(f"Solver: {proposal.method}; status {proposal.status}; total weight {proposal.objective:,.0f}"
                 + ("" if proposal.status == "optimal" else
                    f"; bound {proposal.bound:,.0f}; gap {proposal.gap:.2%}"))
    pruning = getattr(proposal.candidates, "pruning", None)
    if pruning is not None:
        from matcher.proposals.candidates import pruning_lines
        lines += pruning_lines(pruning, proposal.objective, bool(shortlist))
    if getattr(proposal, "stopped", False):
        lines.append(f"The search stopped at its time limit ({{option:time_limit_s}} "
                     f"{proposal.request.config.time_limit_s:g} s, counted as the solver's deterministic work) "
                     "before it proved this proposal optimal; the same input and options stop at the same point "
                     "and give the same proposal. Allow more time for a better one.")
    lines.append(f"Units proposed: {proposed.height} of {waiting.height} waiting "
                 f"({children_proposed} of {children_words(children_waiting)})")
    sizes = sorted(set(waiting["size"].to_list()))
    for title, column, order in (
        ("by group size", "size", [(s, f"of {s}") for s in sizes]),
        ("by age of youngest", "age_band", [(name, name) for _, _, name in AGE_BANDS]),
        ("by highest need", "need_band", [(name, name) for name in NEED_BANDS]),
    ):
        got = dict(proposed.group_by(column).len().iter_rows())
        of = dict(waiting.group_by(column).len().iter_rows())
        parts = [f"{label}: {got.get(key, 0)}/{of[key]}" for key, label in order if of.get(key)]
        lines.append(f"  {title}: " + ", ".join(parts))
    lines.append("")
    links = proposal.links
    if shortlist:
        # Alternatives are not costs: only the link each unit would explore first counts.
        links = links.filter(pl.col("rank") == 1)
        lines.append("Inter-agency fees by child's agency, for the top-ranked link of each unit only (the other "
                     "shortlisted links are alternatives to it, not further costs):")
    else:
        lines.append("Inter-agency fees by child's agency:")
    fees = links.select("unit_id", "fee").join(units.select("unit_id", "agency_id"), on="unit_id", how="left")
    by_agency = dict(fees.group_by("agency_id").agg(pl.col("fee").sum()).iter_rows())
    for agency in sorted(set(by_agency) | set(proposal.request.budgets)):
        budget = proposal.request.budgets.get(agency)
        spent = int(by_agency.get(agency, 0))
        lines.append(f"  {agency}: {money(spent)}" + (f" of a {money(budget)} budget" if budget is not None else ""))
    if not by_agency and not proposal.request.budgets:
        lines.append("  none")
    lines.append("")
    if not shortlist:
        reasons = unproposed_reasons(region, proposal)
        lines.append(f"Units left unproposed: {len(reasons)}")
        for unit, why in reasons:
            lines.append(f"  {unit}: {why}")
    if links_sha256 is not None:
        lines.append("")
        lines += provenance_lines(made, inputs or [], links_sha256, proposal.request)
    return name_options("\n".join(lines) + "\n", names)


def summary_links_sha256(text: str) -> str | None:
    """The SHA-256 of the links file a summary describes, or None when the
    summary does not say (written before summaries did)."""
    found = re.search("^" + re.escape(LINKS_SHA_LINE) + r"([0-9a-f]{64})$", text, flags=re.MULTILINE)
    return found.group(1) if found else None


# --- writing ---------------------------------------------------------------------------------------------------------

def write_proposal(region: Region, proposal, path, made: Provenance | None = None,
                   names: dict | None = None) -> tuple[str, Path]:
    """Check the proposal, then write its links to ``path``, its summary
    (``<links name>.summary.txt``) and its manifest (``<stem>.manifest.json``)
    beside it, as one :class:`~matcher.files.write.FileSet`: all three are
    written to temporary files and flushed first, then renamed links first,
    summary second, manifest last. A failure before the renames leaves the
    old files as they were; a kill between them leaves new links beside an
    old summary and manifest, which record another links file's SHA-256, so
    the mismatch shows (``validate-proposal``). Refuses (InvalidProposal)
    to write anything if :func:`~matcher.proposals.checks.check_validity`
    finds a problem. Returns the summary text and its path."""
    from matcher.files.manifest import manifest, manifest_text
    from matcher.files.write import FileSet, manifest_path, summary_path
    from matcher.proposals.checks import InvalidProposal, check_validity

    problems = check_validity(proposal, region)
    if problems:
        raise InvalidProposal(problems)
    path = Path(path)
    made = made or Provenance("propose", as_of=region.as_of)
    inputs = made.input_hashes()
    summary_file, manifest_file = summary_path(path), manifest_path(path)
    with FileSet() as files:
        links_sha = files.stage_frame(proposal.links, path)
        summary = proposal_summary(region, proposal, links_sha, made, inputs, names)
        summary_sha = files.stage_text(summary, summary_file)
        files.stage_text(manifest_text(manifest(made, inputs, [(path, links_sha), (summary_file, summary_sha)])),
                         manifest_file)
        files.commit()
    return summary, summary_file

