"""The exchange day's files: the schedule, the meetings per unit, a summary,
one printable page per household and one per table, and a manifest, all
written as one set (:class:`matcher.files.write.FileSet`).

Pages are Jinja2 templates (``templates/``, shipped with the package) with
autoescaping on, self-contained: inline CSS, no script, no link, font or
image fetched from anywhere.

What a household page may say about a child: its age band, sex, the size
of its group and its needs in words, nothing else. No id, date of birth,
location, distance or birth-family detail; of the reasons a pair scored as
it did only those about needs, unit size and the approved ages are shown
(the others name heritage, distance and travel, the wait since entering
care, or the agencies).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import polars as pl

from features.contract import LEVEL_LABELS, NEED_LABELS, NEEDS
from matcher.exchange.plan import SCHEDULE_COLUMNS, ExchangeDay
from matcher.files.manifest import Provenance, manifest, manifest_text, read_manifest
from matcher.files.write import FileSet, check_not_inputs
from matcher.region import Region
from matcher.scoring.explain import pair_explanation, reason_text
from matcher.scoring.weights import Weights

AGE_BANDS = ((0, 12, "under 1"), (12, 60, "aged 1–4"), (60, 120, "aged 5–9"), (120, 10_000, "aged 10 or over"))
PAGE_FACTORS = ("needs", "siblings", "age_fit")
"""The reasons a household page shows (see the module docstring)."""
# A last guard: a reason mentioning any of these never reaches a page.
_WITHHELD = re.compile(r"\b(km|distance|travel|location|birth|lives|away|date of birth)\b", re.IGNORECASE)

SCHEDULE = "schedule.csv"
UNITS = "units.csv"
SUMMARY = "summary.txt"
MANIFEST = "schedule.manifest.json"


def page_name(identifier: str) -> str:
    """A file name for an id's page: the id itself when it is plain
    (letters, digits, ``.``, ``_``, ``-``, not starting with a dot), else its
    plain characters and a short hash of the id (so two ids never share a
    page)."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", identifier)
    if plain == identifier and not plain.startswith("."):
        return plain + ".html"
    digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:10]
    return f"{plain.lstrip('.')[:40]}-{digest}.html"


def output_paths(folder: str | os.PathLike, day: ExchangeDay) -> dict[str, Path]:
    """Every file of a result, by role."""
    out = Path(folder)
    paths = {"schedule": out / SCHEDULE, "units": out / UNITS, "summary": out / SUMMARY}
    for household_id in day.event.household_ids:
        if household_id not in day.absent:
            paths[f"household {household_id}"] = out / "households" / page_name(household_id)
    for table in day.event.tables:
        paths[f"table {table.table_id}"] = out / "tables" / page_name(table.table_id)
    paths["manifest"] = out / MANIFEST
    return paths


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("matcher.exchange", "templates"),
                       autoescape=select_autoescape(["html"], default=True), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _band(months: int) -> str:
    return next(name for low, high, name in AGE_BANDS if low <= months < high)


def unit_profile(region: Region, unit_row: int) -> dict:
    """What a household page says about a unit: group size, each child's
    sex and age band, and its needs in words."""
    kids = region.children_of(unit_row)
    people = sorted((int(a), s) for a, s in zip(kids["age_months"].to_list(), kids["sex"].to_list()))
    words = [f"a {'girl' if sex == 'F' else 'boy'} {_band(age)}" for age, sex in people]
    headline = "A single child:" if len(words) == 1 else \
        f"A sibling group of {len(words)} children, to be placed together:"
    levels = region.unit_arrays.needs[unit_row]
    needs = [f"{LEVEL_LABELS[int(level)]} {NEED_LABELS[need]}" for need, level in zip(NEEDS, levels) if level > 0]
    return {"headline": headline, "children": words, "needs": ", ".join(needs) if needs else "none recorded"}


def _reasons(region: Region, day: ExchangeDay, weights: Weights, unit_id: str, household_id: str):
    k = day.pair_scores.get((unit_id, household_id))
    if k is None or k < 0:
        return None, []
    scores = day.scores
    _, details = pair_explanation(region, weights, int(scores.units[k]), int(scores.households[k]),
                                  scores.contributions[k], int(scores.fee[k]), float(scores.distance_km[k]))
    texts = [reason_text(d) for d in details if d["factor"] in PAGE_FACTORS]
    return f"{float(scores.score[k]):.1f}", [t for t in texts if not _WITHHELD.search(t)]


def household_page(region: Region, day: ExchangeDay, weights: Weights, household_id: str, env=None) -> str:
    """The printable page of one household's meetings, slot by slot."""
    env = env or _environment()
    by_slot = {m.slot: m for m in day.meetings if m.household_id == household_id}
    schedule = []
    for slot in range(1, day.event.slots + 1):
        m = by_slot.get(slot)
        meeting = None
        if m is not None:
            score, reasons = _reasons(region, day, weights, m.unit_id, household_id)
            meeting = {"table_id": m.table_id, "requested": m.requested, "score": score, "reasons": reasons,
                       "profile": unit_profile(region, region.unit_row_of_id[m.unit_id])}
        schedule.append({"number": slot, "meeting": meeting})
    unmet = [{"table_id": r.table_id, "why": r.why} for r in day.requests
             if r.household_id == household_id and r.slot is None]
    return env.get_template("household.html").render(
        title=f"Your meetings: household {household_id}", household_id=household_id, slots=day.event.slots,
        max_meetings=day.event.max_meetings, schedule=schedule, unmet=unmet)


def table_page(day: ExchangeDay, table_id: str, env=None) -> str:
    """The page for the social workers at one table: slot by slot, which
    household meets which unit."""
    env = env or _environment()
    table = day.event.table(table_id)
    schedule = []
    for slot in range(1, day.event.slots + 1):
        meetings = [{"household_id": m.household_id, "unit_id": m.unit_id,
                     "kind": ("requested visit" if m.requested else "matched") + (" (locked)" if m.locked else "")}
                    for m in day.meetings if m.table_id == table_id and m.slot == slot]
        schedule.append({"number": slot, "meetings": meetings})
    short = [u for u in day.units if u.table_id == table_id and u.why]
    return env.get_template("table.html").render(
        title=f"Table {table_id}", table_id=table_id, capacity=table.capacity, slots=day.event.slots,
        units=sorted(table.unit_ids), schedule=schedule, short=short, min_meetings=day.event.min_meetings)


def schedule_frame(day: ExchangeDay) -> pl.DataFrame:
    """The schedule in the contract's columns, sorted by slot, table, unit, household."""
    rows = [(m.slot, m.table_id, m.unit_id, m.household_id, m.requested) for m in day.meetings]
    return pl.DataFrame(rows, schema={"slot": pl.Int64, "table_id": pl.String, "unit_id": pl.String,
                                      "household_id": pl.String, "requested": pl.Boolean}, orient="row"
                        ).select(SCHEDULE_COLUMNS)


def units_frame(day: ExchangeDay) -> pl.DataFrame:
    """Meetings per featured unit, with the shortfall and why."""
    rows = [(u.unit_id, u.table_id, u.eligible_households, u.meetings, u.requested_visits, u.short, u.why or "")
            for u in sorted(day.units, key=lambda u: (u.table_id, u.unit_id))]
    return pl.DataFrame(rows, schema={"unit_id": pl.String, "table_id": pl.String,
                                      "eligible_households": pl.Int64, "meetings": pl.Int64,
                                      "requested_visits": pl.Int64, "short_of_min": pl.Int64, "why": pl.String},
                        orient="row")


def summary_lines(day: ExchangeDay, names: dict | None = None) -> list[str]:
    """The day in a few lines (also printed by the CLI); nothing in it
    changes between runs on the same input."""
    event = day.event
    reached = sum(1 for u in day.units if u.meetings)
    eligible_units = sum(1 for u in day.units if u.eligible_households)
    met = [r for r in day.requests if r.slot is not None]
    unmet = [r for r in day.requests if r.slot is None]
    lines = [
        f"exchange day: {len(day.meetings)} meetings in {event.slots} slots at {len(event.tables)} tables; "
        f"{len(event.household_ids) - len(day.absent)} households attending"
        + (f" ({len(day.absent)} absent: {', '.join(day.absent)})" if day.absent else ""),
        f"units reached: {reached} of {len(day.units)} featured ({eligible_units} with an eligible attending "
        f"household)",
    ]
    short = [u for u in day.units if u.short]
    lines.append(f"units short of min_meetings ({event.min_meetings}): {len(short)}")
    lines += [f"  {u.unit_id} (table {u.table_id}): {u.meetings} of {event.min_meetings}; {u.why}" for u in short]
    none = [u for u in day.units if not u.eligible_households]
    if none:
        lines.append(f"units with no eligible attending household: {', '.join(u.unit_id for u in none)}")
    lines.append(f"requests: {len(met)} met, {len(unmet)} unmet")
    lines += [f"  unmet: {r.household_id} to table {r.table_id}: {r.why}" for r in unmet]
    if day.locked or day.dropped_locks:
        lines.append(f"locked meetings kept: {day.locked}")
    lines += [f"  dropped locked meeting (row {d.row}): {d.household_id} with {d.unit_id} at table {d.table_id}, "
              f"slot {d.slot}: the household is absent" for d in day.dropped_locks]
    lines.append(f"solver: {day.status}; objective {day.objective:,} (meeting weights plus {day.reach_bonus:,} per "
                 f"unit reached), bound {day.bound:,}, gap {day.gap:.2%}"
                 + ("" if day.shortfall_proven else "; the shortfall is not proven least"))
    return lines


def write_exchange_day(region: Region, day: ExchangeDay, weights: Weights, folder: str | os.PathLike,
                       made: Provenance, inputs: dict) -> dict[str, Path]:
    """Write every file of the day into ``folder`` as one set, then remove
    the pages an earlier run in this folder wrote that this run did not (a
    household now absent, say). ``inputs`` (role -> path) are never
    replaced."""
    paths = output_paths(folder, day)
    check_not_inputs(paths, inputs, os.fspath(folder))
    env = _environment()
    earlier = read_manifest(paths["manifest"])
    for sub in ("households", "tables"):
        os.makedirs(Path(folder) / sub, exist_ok=True)
    outputs = []
    with FileSet() as files:
        outputs.append((paths["schedule"], files.stage_frame(schedule_frame(day), paths["schedule"])))
        outputs.append((paths["units"], files.stage_frame(units_frame(day), paths["units"])))
        outputs.append((paths["summary"], files.stage_text("\n".join(summary_lines(day)) + "\n",
                                                           paths["summary"])))
        for household_id in day.event.household_ids:
            if household_id in day.absent:
                continue
            path = paths[f"household {household_id}"]
            outputs.append((path, files.stage_text(household_page(region, day, weights, household_id, env), path)))
        for table in day.event.tables:
            path = paths[f"table {table.table_id}"]
            outputs.append((path, files.stage_text(table_page(day, table.table_id, env), path)))
        files.stage_text(manifest_text(manifest(made, made.input_hashes(), outputs)), paths["manifest"])
        files.commit()
    if earlier is not None:
        ours = {os.path.abspath(p) for p in paths.values()}
        for record in earlier["outputs"]:
            old = record.get("path") if isinstance(record, dict) else None
            if isinstance(old, str) and old.endswith(".html") and old not in ours and \
                    Path(old).parent.parent == Path(os.path.abspath(folder)):
                try:
                    os.remove(old)
                except OSError:
                    pass
    return paths


__all__ = ["household_page", "output_paths", "page_name", "schedule_frame", "summary_lines", "table_page",
           "unit_profile", "units_frame", "write_exchange_day"]
