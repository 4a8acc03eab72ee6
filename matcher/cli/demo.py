"""``matcher demo``: a synthetic region end to end, for a first look."""

from __future__ import annotations

import datetime as dt
import os
import shlex

import click
import polars as pl

from matcher import api
from matcher.cli.main import FLAGS
from matcher.cli.render import link_lines, format_summary, print_rank

DEMO_CHILDREN = 400
DEMO_HOUSEHOLDS = 600


def _pick_children(region) -> list[tuple[str, str]]:
    """A single infant, a group of three, and a child with complex needs,
    each waiting (the first of each by id, so the demo is repeatable)."""
    kids = region.children.filter(pl.col("status") == "waiting")
    units = region.units.filter(pl.col("waiting"))
    picks = []
    infants = kids.join(units.filter(pl.col("size") == 1).select("unit_id"), on="unit_id").filter(
        pl.col("age_months") < 12)
    if infants.height:
        picks.append(("a single infant", infants["child_id"][0]))
    threes = units.filter(pl.col("size") == 3)
    if threes.height:
        picks.append(("a sibling group of three", threes["child_ids"][0][0]))
    complex_needs = kids.filter(pl.max_horizontal(pl.col("^need_.*$")) == 3)
    if complex_needs.height:
        picks.append(("a child with complex needs", complex_needs["child_id"][0]))
    return picks


def run_demo(out: str, seed: int, as_of: dt.date) -> None:
    """Generate a region into ``out``, validate it, run ranked queries and a
    batch proposal, and say where every file is."""
    os.makedirs(out, exist_ok=True)
    kids, homes = api.generate(seed, DEMO_CHILDREN, DEMO_HOUSEHOLDS, as_of)
    made = api.provenance("demo", as_of=as_of, options={"seed": seed, "children": DEMO_CHILDREN,
                                                             "households": DEMO_HOUSEHOLDS, "format": "csv"})
    children_path, households_path = (str(p) for p in api.write_region(kids, homes, out, "csv", made))
    click.echo(f"Synthetic region (seed {seed}, as of {as_of.isoformat()}) written to {out}/")
    region = api.region_from_files(children_path, households_path, as_of)
    # Every command shown runs as printed, from the folder the demo ran in.
    files = shlex.join(["--children", children_path, "--households", households_path, "--as-of", as_of.isoformat()])
    click.echo("Validated against the contract:")
    click.echo(format_summary(api.region_summary(region)))

    for label, child_id in _pick_children(region):
        click.echo("")
        click.echo(f"Ranked query for {label} ({child_id}):")
        click.echo(f"  matcher rank --child {child_id} --top 5 {files}")
        answer = api.rank(region, child_id=child_id, options=api.QueryOptions(top=5))
        print_rank(answer)
        if answer["results"]:
            household_id = answer["results"][0]["household_id"]
            click.echo(f"Every reason for the first: matcher why-not --child {child_id} --household {household_id} "
                       f"{files}")
        if "near_misses" not in answer:
            click.echo(f"Households one rule away: matcher near-misses --child {child_id} {files}")

    click.echo("")
    links_path = os.path.join(out, "proposal.csv")
    click.echo("Batch proposal:")
    click.echo(f"  matcher propose --out {shlex.quote(links_path)} {files}")
    proposal = api.propose(region)
    made = api.provenance("propose", children=children_path, households=households_path, as_of=as_of,
                          options=api.ProposalOptions(), weights=api.ProposalOptions().weights)
    summary, summary_path = api.write_proposal(region, proposal, links_path, made, names=FLAGS)
    lines = summary.splitlines()
    shown = lines[:20]
    click.echo("\n".join(shown))
    if len(lines) > len(shown):
        click.echo(f"... ({len(lines) - len(shown)} more lines in {summary_path})")
    register = _register_tour(out, children_path, households_path, as_of, proposal)
    _exchange_day_tour(out, region, files, proposal)
    _pool_report(out, region, children_path, households_path, links_path)

    click.echo("")
    click.echo("Files (each result with its manifest: how it was made):")
    for path in (children_path, households_path, links_path, summary_path):
        click.echo(f"  {os.path.abspath(path)}")
    for path in sorted({api.manifest_path(p) for p in (children_path, households_path, links_path)}):
        click.echo(f"  {os.path.abspath(path)}")
    if register:
        click.echo(f"  {os.path.abspath(register)} (the demo's own register, remade on every run)")


# The stages a link moves through in the demo, each with its reason.
TOUR = (("propose", "proposed in the batch proposal"), ("explore", "social workers are sharing profiles"),
        ("link", "both agreed at the linking meeting"))


def _register_tour(out: str, children: str, households: str, as_of: dt.date, proposal) -> str | None:
    """The region in a throwaway register (SQLite, under ``out``) and the
    first proposed link moved through its first stages; the register's
    path, or None when the proposal linked nothing."""
    if not proposal.links.height:
        return None
    db = os.path.join(out, "register.sqlite3")
    api.close_store(db)
    for leftover in (db, db + "-wal", db + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    child, household = proposal.links["child_ids"][0].split(";")[0], proposal.links["household_id"][0]
    store = f"--db {shlex.quote(db)}"
    click.echo("")
    click.echo("The case register (an embedded SQLite store; PostgreSQL with --db postgresql://...):")
    api.init_store(db)
    click.echo(f"  matcher db init {store}")
    api.import_files(children, households, as_of, db)
    click.echo(f"  matcher import {store} --children {shlex.quote(children)} --households {shlex.quote(households)} "
               f"--as-of {as_of.isoformat()}")
    for action, reason in TOUR:
        api.move_link(db, action, child, household, reason=reason)
        click.echo(f"  matcher link {action} {store} --child {child} --household {household} "
                   f"--reason {shlex.quote(reason)}")
    click.echo(f"  matcher link show {store} --child {child} --household {household}")
    click.echo(link_lines(api.show_link(db, child, household)))
    return db


# The demo's exchange day: units on tables, households, slots (README, "Exchange days").
EXCHANGE_UNITS, EXCHANGE_TABLES, EXCHANGE_HOUSEHOLDS, EXCHANGE_SLOTS = 12, 6, 24, 4


def _exchange_day_tour(out: str, region, files: str, proposal) -> None:
    """Plan an exchange day for the demo region: the first units of the
    proposal (by id), two a table, the households ranked best for them, two
    requests; write the event, the schedule and the pages, say where."""
    units = sorted(proposal.links["unit_id"].to_list())[:EXCHANGE_UNITS]
    if len(units) < EXCHANGE_TABLES:
        return
    ranked = [api.rank(region, child_id=region.units.filter(pl.col("unit_id") == unit_id)["child_ids"][0][0],
                       options=api.QueryOptions(top=4))["results"] for unit_id in units]
    # Round by round, each unit's next best household, so every unit brings some.
    households: list[str] = []
    for k in range(4):
        for results in ranked:
            if k < len(results) and results[k]["household_id"] not in households:
                households.append(results[k]["household_id"])
    households = sorted(households[:EXCHANGE_HOUSEHOLDS])
    tables = [{"table_id": f"T{t + 1}", "capacity": 2, "unit_ids": units[t::EXCHANGE_TABLES]}
              for t in range(EXCHANGE_TABLES)]
    event = {"slots": EXCHANGE_SLOTS, "max_meetings": 3, "min_meetings": 2, "tables": tables,
             "household_ids": households,
             "requests": [{"household_id": households[0], "table_id": "T6"},
                          {"household_id": households[1], "table_id": "T3"}]}
    event_path = os.path.join(out, "exchange-event.json")
    folder = os.path.join(out, "exchange-day")
    api.write_exchange_event(event, event_path)
    click.echo("")
    click.echo(f"Exchange day ({len(units)} units on {len(tables)} tables, {len(households)} households, "
               f"{EXCHANGE_SLOTS} slots, 2 requests):")
    click.echo(f"  matcher exchange-day --event {shlex.quote(event_path)} --out {shlex.quote(folder)} {files}")
    day = api.exchange_day(region, api.read_exchange_event(event_path, region))
    made = api.exchange_provenance(event=event_path, children=_region_paths(out)[0], households=_region_paths(out)[1],
                                   as_of=region.as_of, options={"absent": [], "time_limit_s": 60.0, "seed": 0,
                                                                "workers": 1}, weights=api.QueryOptions().weights)
    inputs = {"children": _region_paths(out)[0], "households": _region_paths(out)[1], "event": event_path}
    api.write_exchange_day(region, day, folder, made, inputs)
    for line in api.exchange_day_summary(day):
        click.echo(f"  {line}")
    click.echo(f"  schedule: {os.path.abspath(os.path.join(folder, 'schedule.csv'))}")
    click.echo(f"  pages: {os.path.abspath(os.path.join(folder, 'households'))}/ (one per household), "
               f"{os.path.abspath(os.path.join(folder, 'tables'))}/ (one per table)")


def _region_paths(out: str) -> tuple[str, str]:
    """The demo region's two files in ``out``."""
    return tuple(str(p) for p in api.region_files(out, "csv"))


def _pool_report(out: str, region, children: str, households: str, links: str) -> None:
    """The pool report of the demo region and its proposal, and a picture
    of it taken with headless Chromium (said, not fatal, when Chromium or
    Playwright is missing)."""
    report_path = os.path.join(out, "report.html")
    picture = os.path.join(out, "report.png")
    click.echo("")
    click.echo("Pool report (families short, waiting against the scorecard, fees, fairness):")
    click.echo(f"  matcher report --out {shlex.quote(report_path)} --proposal {shlex.quote(links)} "
               f"--children {shlex.quote(children)} --households {shlex.quote(households)} "
               f"--as-of {region.as_of.isoformat()}")
    data = api.report_data(region, data=f"{children} and {households}",
                           proposal=api.proposal_from_file(region, links))
    api.write_report(data, report_path)
    click.echo(f"  wrote {os.path.abspath(report_path)}")
    missing = api.report_screenshot_problem()
    if missing is not None:
        click.echo(f"  no screenshot of the report: {missing}")
        return
    api.screenshot_report(report_path, picture)
    click.echo(f"  screenshot of the report (headless Chromium): {os.path.abspath(picture)}")
