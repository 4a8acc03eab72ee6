"""The summary beside a proposal: what was proposed, what was not and why,
fees by agency, and how the solver did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from matcher.scoring.explain import children_words, money
from matcher.region import Region

AGE_BANDS = ((0, 12, "under 1"), (12, 60, "1–4"), (60, 120, "5–9"), (120, 10_000, "10 and over"))
NEED_BANDS = ("no additional needs", "mild needs", "moderate needs", "severe or complex needs")


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


def unproposed_reasons(region: Region, proposal) -> list[tuple[str, str]]:
    """(unit_id, why) for every waiting unit left without a link."""
    scores = proposal.candidates
    links = proposal.links
    taken_by = dict(zip(links["household_id"].to_list(), links["unit_id"].to_list()))
    weight_of = dict(zip(links["unit_id"].to_list(), links["weight"].to_list()))
    proposed = set(links["unit_id"].to_list())
    is_proposed = np.zeros(len(region.unit_arrays), dtype=bool)
    is_proposed[[region.unit_row_of_id[unit] for unit in proposed]] = True
    left_out = ~is_proposed[scores.units]
    # Only the pairs of units left out are looked at: a handful, not millions.
    eligible_by_unit: dict[int, list[tuple[str, int]]] = {}
    hids = region.household_arrays.household_ids
    for u, h, w in zip(scores.units[left_out].tolist(), scores.households[left_out].tolist(),
                       scores.weight[left_out].tolist()):
        eligible_by_unit.setdefault(u, []).append((str(hids[h]), w))
    out = []
    for row in region.waiting_unit_rows.tolist():
        unit = str(region.unit_arrays.unit_ids[row])
        if unit in proposed:
            continue
        options = eligible_by_unit.get(row, [])
        if not options:
            out.append((unit, "no eligible household at all"))
            continue
        free = [h for h, _ in options if h not in taken_by]
        beaten = [(h, w) for h, w in options if h in taken_by and w > weight_of[taken_by[h]]]
        if not free and beaten:
            # A lower-weight link won one of its households: only a side
            # constraint (a budget, sibling contact, a fixed link) explains that.
            h, w = sorted(beaten, key=lambda o: (-o[1], o[0]))[0]
            out.append((unit, f"kept out by {_constraints_in(proposal.request)}: e.g. {h} went to {taken_by[h]} "
                              f"(weight {weight_of[taken_by[h]]}) although this unit's link would weigh {w}"))
        elif not free:
            best = sorted(options, key=lambda o: (-o[1], o[0]))[:3]
            named = "; ".join(f"{h} went to {taken_by[h]} (weight {weight_of[taken_by[h]]} vs {w} here)"
                              for h, w in best)
            more = f" and {len(options) - 3} more" if len(options) > 3 else ""
            which = "its only eligible household" if len(options) == 1 else \
                f"every one of its {len(options)} eligible households"
            out.append((unit, f"{which} went to another unit in the "
                              f"best overall proposal: {named}{more}"))
        else:
            out.append((unit, f"{len(free)} eligible household(s) left free ({', '.join(sorted(free)[:3])}"
                              f"{'...' if len(free) > 3 else ''}) could not be used because of "
                              f"{_constraints_in(proposal.request)}"))
    return out


def _constraints_in(request) -> str:
    """The side constraints of a request, in words."""
    reasons = []
    if request.min_score is not None or request.excluded:
        reasons.append("--min-score or --exclude")
    if request.budgets:
        reasons.append("an inter-agency fee budget")
    if request.sibling_contact_km is not None:
        reasons.append("--sibling-contact-km")
    if request.fixed:
        reasons.append("a fixed link")
    return " or ".join(reasons) or "the solver's time limit"


def proposal_summary(region: Region, proposal) -> str:
    """The summary as text. It holds nothing that changes between runs of
    the same input (no times), so the file is byte-identical each time."""
    units = _unit_table(region)
    waiting = units.filter(pl.col("waiting"))
    proposed = waiting.filter(pl.col("unit_id").is_in(proposal.links["unit_id"].unique().to_list()))
    children_waiting = int(waiting["size"].sum())
    children_proposed = int(proposed["size"].sum())
    lines = []
    kind = f"shortlist of up to {proposal.request.shortlist}" if proposal.request.shortlist else "proposal"
    n_links = proposal.links.height
    lines.append(f"Batch {kind} as of {region.as_of.isoformat()}: {n_links} link{'s' if n_links != 1 else ''}")
    lines.append(f"Solver: {proposal.method}; status {proposal.status}; total weight {proposal.objective:,.0f}"
                 + ("" if proposal.status == "optimal" else
                    f"; bound {proposal.bound:,.0f}; gap {proposal.gap:.2%}"))
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
    lines.append("Inter-agency fees by child's agency:" if not proposal.request.shortlist else
                 "Inter-agency fees by child's agency, if every shortlisted link went ahead (alternatives: "
                 "not a cost):")
    fees = proposal.links.join(units.select("unit_id", "agency_id"), on="unit_id", how="left")
    by_agency = dict(fees.group_by("agency_id").agg(pl.col("fee").sum()).iter_rows())
    for agency in sorted(set(by_agency) | set(proposal.request.budgets)):
        budget = proposal.request.budgets.get(agency)
        spent = int(by_agency.get(agency, 0))
        lines.append(f"  {agency}: {money(spent)}" + (f" of a {money(budget)} budget" if budget is not None else ""))
    if not by_agency and not proposal.request.budgets:
        lines.append("  none")
    lines.append("")
    reasons = unproposed_reasons(region, proposal) if not proposal.request.shortlist else []
    if not proposal.request.shortlist:
        lines.append(f"Units left unproposed: {len(reasons)}")
        for unit, why in reasons:
            lines.append(f"  {unit}: {why}")
    return "\n".join(lines) + "\n"


def write_proposal(region: Region, proposal, path) -> tuple[str, Path]:
    """Check the proposal, then write its links to ``path`` and its summary
    beside it (``<stem>.summary.txt``). Refuses (InvalidProposal) to write
    anything if :func:`~matcher.validity.check_validity` finds a problem.
    Returns the summary text and its path."""
    from matcher.files.write import write_frame
    from matcher.proposals.checks import InvalidProposal, check_validity

    problems = check_validity(proposal, region)
    if problems:
        raise InvalidProposal(problems)
    path = Path(path)
    summary = proposal_summary(region, proposal)
    summary_path = path.with_name(path.stem + ".summary.txt")
    write_frame(proposal.links, path)
    summary_path.write_text(summary, encoding="utf-8")
    return summary, summary_path
