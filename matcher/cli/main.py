"""The ``matcher`` command line.

The CLI parses, calls :mod:`matcher.api` and renders: it reaches nothing
below the API. Bad input raises :class:`~matcher.errors.InputError`;
:func:`main` names options by their flags (``budgets`` is ``--budget``),
prints one clear message on stderr and exits 2. Any other failure exits
with status 1 and a one-line message (set ``MATCHER_DEBUG=1`` for the
traceback).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys

import click

from matcher import api
from matcher.api import InputError, Problem

# The CLI's flag for each option of the domain API.
FLAGS = {
    "budgets": "--budget", "min_score": "--min-score", "fixed": "--fix", "excluded": "--exclude",
    "sibling_contact_km": "--sibling-contact-km", "shortlist": "--shortlist", "time_limit_s": "--time-limit",
    "workers": "--workers", "seed": "--seed", "solver_seed": "--seed", "top": "--top",
    "child_id/household_id": "--child/--household", "n_children": "--children", "n_households": "--households",
    "as_of": "--as-of", "out": "--out", "children": "--children", "households": "--households",
    "force": "--force", "links": "--links", "db": "--db", "reason": "--reason", "from_state": "--from",
    "state": "--state", "record": "--record", "acting_for": "--user", "since": "--since", "file": "FILE",
    "scheduler": "--scheduler", "tls_ca_file": "--tls-ca-file", "tls_cert": "--tls-cert", "tls_key": "--tls-key",
    "scheduler_timeout_s": "--scheduler-timeout",
    "candidates": "--candidates",
}


def allowed(option: str) -> str:
    """An option's allowed range, for its help text (the domain checks it)."""
    return api.NUMBERS[option].describe()


def _on_the_command_line(error: InputError) -> InputError:
    """The domain's option problems as the command line says them."""
    problems = []
    for p in error.problems:
        if p.file == api.OPTIONS:
            p = dataclasses.replace(p, file="command line", column=FLAGS.get(p.column, p.column), kind=None)
        problems.append(dataclasses.replace(p, expected=api.name_options(p.expected, FLAGS)))
    out = type(error).__new__(type(error))
    InputError.__init__(out, problems)
    return out


def _parse_date(value: str | None, option: str) -> dt.date:
    """``--as-of`` (or another date option) as a date; today when not given."""
    if value is None:
        return dt.date.today()
    return api.iso_date(option.lstrip("-").replace("-", "_"), value)


def region_options(func):
    """--children, --households and --as-of, shared by every file-mode command."""
    func = click.option("--as-of", "as_of", default=None, metavar="DATE",
                        help="Date ages and waits are measured at (YYYY-MM-DD; default today).")(func)
    func = click.option("--households", "households", required=True, metavar="FILE",
                        help="Households file (CSV, Parquet, or .xlsx/.ods workbook).")(func)
    func = click.option("--children", "children", required=True, metavar="FILE",
                        help="Children file (CSV, Parquet, or .xlsx/.ods workbook).")(func)
    return func


DB_HELP = ("The case register: a file path (SQLite) or postgresql://user@host:port/database "
           "(default: MATCHER_DB, else the store in your data folder).")


def _acting_for(ctx: click.Context, _param, value: str | None) -> None:
    if value is not None:
        ctx.with_resource(api.acting(acting_for=value))


def user_option(func):
    """--user: whom the OS user acts for, recorded in the store's audit."""
    return click.option("--user", default=None, metavar="NAME", expose_value=False, callback=_acting_for,
                        help="The person you act for, recorded in the store's audit as 'acting for' (the "
                             "operating-system user is always recorded as who).")(func)


def db_option(func):
    """--db (and --user), for the store commands."""
    return user_option(click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(func))


def data_options(func):
    """Where a query command's data comes from: both files, or a store
    (--db, or MATCHER_DB when neither is given), and --as-of."""
    func = click.option("--as-of", "as_of", default=None, metavar="DATE",
                        help="Date ages and waits are measured at (YYYY-MM-DD; default today).")(func)
    func = click.option("--db", "db", default=None, metavar="URL",
                        help="Read the case register instead of files: a file path (SQLite) or "
                             "postgresql://user@host:port/database (default: MATCHER_DB when no files are given).")(func)
    func = click.option("--households", "households", default=None, metavar="FILE",
                        help="Households file (CSV, Parquet, or .xlsx/.ods workbook).")(func)
    func = click.option("--children", "children", default=None, metavar="FILE",
                        help="Children file (CSV, Parquet, or .xlsx/.ods workbook).")(func)
    return user_option(func)


def _audit_read(children: str | None, db: str | None, action: str, what: str, *, child_id: str | None = None,
                household_id: str | None = None) -> None:
    """In store mode, record the read in the store's audit (before the
    answer is shown)."""
    if children is None:
        api.audit_read(api.query_store(db), action, what, child_id=child_id, household_id=household_id)


HOW_TO_GIVE_DATA = ("the region's data: give --children FILE and --households FILE, or --db URL (a store made "
                    "with `matcher db init` and `matcher import`), or set MATCHER_DB to a store")


def _data_source(children: str | None, households: str | None, db: str | None) -> str | None:
    """The store to read (None: the files), or bad input saying how to give
    data."""
    if db is not None and (children is not None or households is not None):
        raise InputError(Problem("command line", None, "--db", db,
                                 "either --children and --households or --db, not both"))
    if children is not None or households is not None:
        if children is None or households is None:
            missing = "--children" if children is None else "--households"
            raise InputError(Problem("command line", None, missing, None,
                                     "both --children FILE and --households FILE (or --db URL instead)"))
        return None
    store = api.query_store(db)
    if store is None:
        raise InputError(Problem("command line", None, None, None, HOW_TO_GIVE_DATA))
    return store


def _show(result, fmt: str, render) -> None:
    """A query's answer: JSON for other programs, else ``render``ed to read."""
    from matcher.cli.render import dumps

    if fmt == "json":
        click.echo(dumps(result))
    else:
        render(result)


def _echo_warnings(warnings) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcher")
def cli() -> None:
    """matcher: explainable family-finding matches for adoption agencies.

    People decide; matcher proposes and explains.
    """


@cli.command()
@region_options
def validate(children: str, households: str, as_of: str | None) -> None:
    """Check both files against the contract and print counts, or every
    problem found."""
    from matcher.cli.render import format_summary

    checked = api.check_files(children, households, _parse_date(as_of, "--as-of"))
    _echo_warnings(checked.warnings)
    if checked.problems:
        click.echo(_on_the_command_line(InputError(list(checked.problems))).render(limit=None), err=True)
        sys.exit(2)
    click.echo("valid")
    click.echo(format_summary(checked.counts))


@cli.command()
@click.option("--seed", required=True, metavar="N",
              help=f"Random seed ({allowed('seed')}); the same seed gives the same region.")
@click.option("--children", "n_children", required=True, metavar="N",
              help=f"Number of children ({allowed('n_children')}).")
@click.option("--households", "n_households", required=True, metavar="N",
              help=f"Number of households ({allowed('n_households')}).")
@click.option("--out", "out", required=True, metavar="DIR", help="Folder to write children and households to.")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="Date the region is drawn at (default today); the same seed and date give the same files.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="File format of the children and households written.")
@click.option("--force", is_flag=True, default=False, help="Replace a region already in the folder.")
def generate(seed: int, n_children: int, n_households: int, out: str, as_of: str | None, fmt: str,
             force: bool) -> None:
    """Write a synthetic region in the contract's format."""
    day = _parse_date(as_of, "--as-of")
    request = api.RegionRequest(seed, n_children, n_households)
    seed, n_children, n_households = request.seed, request.n_children, request.n_households
    api.check_output_folder(out)
    api.check_region_folder(out, replace=force)
    kids, homes = api.generate(seed, n_children, n_households, day)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise InputError(Problem("command line", None, "--out", out, f"a folder that can be made ({exc.strerror})")) \
            from None
    made = api.provenance("generate", as_of=day, options={"seed": seed, "children": n_children,
                                                          "households": n_households, "format": fmt})
    api.write_region(kids, homes, out, fmt, made)
    click.echo(f"wrote {n_children} {'child' if n_children == 1 else 'children'} and {n_households} "
               f"household{'' if n_households == 1 else 's'} to {out}")


def weights_option(func):
    return click.option("--weights", "weights_file", default=None, metavar="FILE",
                        help="Scorer weights (TOML); `matcher weights` prints the defaults.")(func)


def scheduler_options(func):
    """--scheduler and its TLS files and timeout: score on Dask distributed."""
    func = click.option("--scheduler-timeout", "scheduler_timeout", default="10", show_default=True,
                        metavar="SECONDS", help="How long to wait for the scheduler and its first worker.")(func)
    func = click.option("--tls-key", "tls_key", default=None, metavar="FILE",
                        help="With a tls:// scheduler: this client's private key (PEM).")(func)
    func = click.option("--tls-cert", "tls_cert", default=None, metavar="FILE",
                        help="With a tls:// scheduler: this client's certificate (PEM).")(func)
    func = click.option("--tls-ca-file", "tls_ca_file", default=None, metavar="FILE",
                        help="With a tls:// scheduler: the CA certificate the cluster's certificates are signed "
                             "by (PEM).")(func)
    func = click.option("--scheduler", "scheduler", default=None, metavar="ADDRESS",
                        help="Score on Dask distributed by unit blocks (the same output): tcp://HOST:PORT or "
                             "tls://HOST:PORT of a running scheduler, or local:N for N worker processes here "
                             "(needs pip install 'matcher[dist]').")(func)
    return func


def _scheduler(scheduler, tls_ca_file, tls_cert, tls_key, timeout):
    """The options' scheduler (checked before any work) and a reporter of
    finished blocks for stderr (about every tenth, and the last)."""
    chosen = api.parse_scheduler(scheduler, tls_ca_file, tls_cert, tls_key, timeout)
    if chosen is None:
        return None, None

    def blocks(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            click.echo(f"dask: {done}/{total} unit blocks scored on {chosen.address}", err=True)

    return chosen, blocks


def load_region(children: str | None, households: str | None, as_of: str | None, db: str | None = None):
    """Validate the files, or the store's tables, and build the region
    (warnings to stderr)."""
    store = _data_source(children, households, db)
    day = _parse_date(as_of, "--as-of")
    region = api.region_from_files(children, households, day) if store is None else api.region_from_store(store, day)
    _echo_warnings(region.warnings)
    return region


@cli.command()
@data_options
@click.option("--child", "child_id", default=None, metavar="ID",
              help="Rank households for the unit holding this child.")
@click.option("--household", "household_id", default=None, metavar="ID", help="Rank units for this household.")
@click.option("--top", default="10", show_default=True, metavar="K",
              help=f"How many households (or units) to show ({allowed('top')}).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table to read, or JSON (CONTRACT.md) for other programs.")
@weights_option
def rank(children, households, db, as_of, child_id, household_id, top, fmt, weights_file) -> None:
    """The best households for a child's unit, or the best units for a
    household. When a child's unit has fewer than --top eligible
    households, households one hard rule away are listed apart, as not
    eligible (near misses)."""
    from matcher.cli.render import print_rank

    if (child_id is None) == (household_id is None):
        raise InputError(Problem("command line", None, "--child/--household", None,
                                 "exactly one of --child ID or --household ID"))
    options = api.QueryOptions(weights=api.load_weights(weights_file), top=top)
    region = load_region(children, households, as_of, db)
    result = api.rank(region, child_id=child_id, household_id=household_id, options=options)
    about = f"--child {child_id}" if child_id is not None else f"--household {household_id}"
    _audit_read(children, db, "rank", f"rank {about} --top {top}", child_id=child_id, household_id=household_id)
    _show(result, fmt, print_rank)


@cli.command("why-not")
@data_options
@click.option("--child", "child_id", required=True, metavar="ID", help="A child of the unit asked about.")
@click.option("--household", "household_id", required=True, metavar="ID", help="The household asked about.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table to read, or JSON (CONTRACT.md) for other programs.")
@weights_option
def why_not_command(children, households, db, as_of, child_id, household_id, fmt, weights_file) -> None:
    """Every hard rule that excludes the pair, by number and name, or its
    score and reasons if none does."""
    from matcher.cli.render import print_why_not

    weights = api.load_weights(weights_file)
    region = load_region(children, households, as_of, db)
    result = api.why_not(region, child_id, household_id, api.QueryOptions(weights=weights))
    _audit_read(children, db, "why-not", f"why-not --child {child_id} --household {household_id}",
                child_id=child_id, household_id=household_id)
    _show(result, fmt, print_why_not)


@cli.command("near-misses")
@data_options
@click.option("--child", "child_id", required=True, help="List near misses for the unit holding this child.")
@click.option("--top", default="10", show_default=True, metavar="K",
              help=f"How many near misses to list ({allowed('top')}).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table to read, or JSON (CONTRACT.md) for other programs.")
@weights_option
def near_misses_command(children, households, db, as_of, child_id, top, fmt, weights_file) -> None:
    """Approved households that break exactly one hard rule for a child's
    unit, with the rule and by how much: not eligible, but a conversation
    to start."""
    from matcher.cli.render import print_near_misses

    options = api.QueryOptions(weights=api.load_weights(weights_file), top=top)
    region = load_region(children, households, as_of, db)
    result = api.near_misses(region, child_id, options)
    _audit_read(children, db, "near-misses", f"near-misses --child {child_id} --top {top}", child_id=child_id)
    _show(result, fmt, lambda r: print_near_misses(r["results"], f"Near misses for unit {r['unit_id']} "
                                                                 f"({', '.join(r['child_ids'])})"))


@cli.command()
@data_options
@click.option("--out", "out", required=True, metavar="FILE", help="Output file (.csv or .parquet).")
@weights_option
@scheduler_options
def scores(children, households, db, as_of, out, weights_file, scheduler, tls_ca_file, tls_cert, tls_key,
           scheduler_timeout) -> None:
    """Every feasible unit-household pair with its score, weight and factors."""
    from matcher.cli.render import progress_printer

    paths = api.plan_output(out, inputs={"children": children, "households": households, "weights": weights_file})
    weights = api.load_weights(weights_file)
    chosen, blocks = _scheduler(scheduler, tls_ca_file, tls_cert, tls_key, scheduler_timeout)
    region = load_region(children, households, as_of, db)
    advance, stop = progress_printer(len(region.waiting_unit_rows), "scoring units")
    options = api.QueryOptions(weights=weights, scheduler=chosen)
    try:
        result = api.scores(region, options, progress=advance, blocks=blocks)
    finally:
        if stop:
            stop()
    _audit_read(children, db, "scores", f"scores of every pair to {out}")
    made = api.provenance("scores", children=children, households=households, as_of=region.as_of, options=options,
                          weights=weights, weights_file=weights_file, store=_store_record(children, db))
    manifest = api.write_scores(result, paths, made)
    click.echo(f"wrote {result.frame.height} feasible pairs to {out} and its manifest to {manifest}", err=True)


@cli.command()
@data_options
@click.option("--out", "out", required=True, metavar="FILE", help="Links file (.csv or .parquet).")
@click.option("--budget", "budgets", multiple=True, metavar="AGENCY=AMOUNT",
              help=f"Cap on a child's agency's total inter-agency fees, in {allowed('budgets')} "
                   f"(repeatable; an agency with no waiting child is warned about and ignored).")
@click.option("--min-score", default=None, metavar="SCORE",
              help=f"Propose no link scoring below this ({allowed('min_score')}).")
@click.option("--fix", "fixed", multiple=True, metavar="UNIT=HOUSEHOLD", help="A link that must be proposed.")
@click.option("--exclude", "excluded", multiple=True, metavar="UNIT=HOUSEHOLD", help="A link never to propose.")
@click.option("--sibling-contact-km", default=None, metavar="KM",
              help=f"Siblings placed apart go to households at most this far apart "
                   f"({allowed('sibling_contact_km')}).")
@click.option("--shortlist", default=None, metavar="K",
              help=f"Up to K households per unit and K units per household ({allowed('shortlist')}).")
@click.option("--time-limit", default="60", show_default=True, metavar="SECONDS",
              help=f"CP-SAT time limit ({allowed('time_limit_s')}).")
@click.option("--workers", default="1", show_default=True, metavar="N",
              help=f"CP-SAT search workers ({allowed('workers')}); 1 gives repeatable output.")
@click.option("--seed", default="0", show_default=True, metavar="N",
              help=f"CP-SAT random seed ({allowed('solver_seed')}).")
@click.option("--candidates", default=None, metavar="K",
              help=f"Keep only the best K households per unit and K units per household, streamed without the "
                   f"full pair table ({allowed('candidates')}); for regions too large for every pair.")
@click.option("--record", is_flag=True, default=False,
              help="Store mode: record the proposal's links as proposed in the register, in one transaction "
                   "(refused if the store changed since it was read).")
@weights_option
@scheduler_options
def propose(children, households, db, as_of, out, budgets, min_score, fixed, excluded, sibling_contact_km, shortlist,
            time_limit, workers, seed, candidates, record, weights_file, scheduler, tls_ca_file, tls_cert, tls_key,
            scheduler_timeout) -> None:
    """A batch proposal of links to explore, with a summary and a manifest beside it."""
    from matcher.cli.render import staged_progress_printer as progress_printer

    if record and children is not None:
        raise InputError(Problem("command line", None, "--record", None,
                                 "a store to record in: --record goes with --db (or MATCHER_DB), not files"))

    paths = api.plan_output(out, inputs={"children": children, "households": households, "weights": weights_file},
                            summary=True)
    options = api.ProposalOptions.parse(budgets, min_score, fixed, excluded, sibling_contact_km, shortlist,
                                        time_limit, workers, seed, candidates=candidates)
    chosen, blocks = _scheduler(scheduler, tls_ca_file, tls_cert, tls_key, scheduler_timeout)
    options = dataclasses.replace(options, weights=api.load_weights(weights_file), scheduler=chosen)
    region = load_region(children, households, as_of, db)
    advance, stop = progress_printer(len(region.waiting_unit_rows), "scoring units")
    try:
        proposal = api.propose(region, options, progress=advance, blocks=blocks)
    finally:
        if stop:
            stop()
    _echo_warnings(proposal.warnings)
    _audit_read(children, db, "propose", f"propose to {out}")
    made = api.provenance("propose", children=children, households=households, as_of=region.as_of, options=options,
                          weights=options.weights, weights_file=weights_file, store=_store_record(children, db))
    summary, summary_path = api.write_proposal(region, proposal, paths, made, names=FLAGS)
    click.echo(summary, nl=False)
    click.echo(f"solver time {proposal.wall_time_s:.2f} s", err=True)
    click.echo(f"wrote {proposal.links.height} links to {out}, the summary to {summary_path} and the manifest to "
               f"{paths.manifest}", err=True)
    if record:
        # --user (from data_options) names whom the OS user acts for.
        done = api.record_proposal(_data_source(children, households, db), region, proposal)
        line = f"recorded {len(done['recorded'])} links as proposed"
        if done["reopened"]:
            line += f", re-opened {len(done['reopened'])} closed ones"
        if done["left"]:
            line += (f"; left {len(done['left'])} already open as they are ("
                     + ", ".join(f"{x['unit_id']}-{x['household_id']} {x['state']}" for x in done["left"]) + ")")
        click.echo(line, err=True)


# --- the case register -------------------------------------------------------------------------------------------

@cli.group("db")
def db_group() -> None:
    """Create or migrate the case register."""


@db_group.command("init")
@db_option
def db_init(db: str | None) -> None:
    """Create the store, or migrate it to the newest schema."""
    where = api.store_location(db)
    before, after = api.init_store(db)
    if before is None:
        click.echo(f"created the store {where} (schema {after})")
    elif before == after:
        click.echo(f"the store {where} is up to date (schema {after})")
    else:
        click.echo(f"migrated the store {where} from schema {before} to {after}")


@db_group.command("backup")
@click.option("--out", "out", required=True, metavar="FILE", help="The backup file to write.")
@click.option("--force", is_flag=True, default=False, help="Replace the file if it exists.")
@db_option
def db_backup(out: str, force: bool, db: str | None) -> None:
    """Back the whole store up to one file (SQLite: online backup;
    PostgreSQL: pg_dump, custom format)."""
    path = api.backup_store(db, out, force=force)
    click.echo(f"backed up {api.store_location(db)} to {path}")


@db_group.command("restore")
@click.argument("backup_file", metavar="FILE")
@click.option("--force", is_flag=True, default=False, help="Replace a store that holds data.")
@db_option
def db_restore(backup_file: str, force: bool, db: str | None) -> None:
    """Replace the store with a backup made by `matcher db backup` (an empty
    store unless --force), then migrate it to the newest schema."""
    after = api.restore_store(db, backup_file, force=force)
    click.echo(f"restored {backup_file} into {api.store_location(db)} (schema {after})")


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


@cli.command("import")
@click.option("--children", "children", required=True, metavar="FILE",
              help="Children file (CSV, Parquet, or .xlsx/.ods workbook).")
@click.option("--households", "households", required=True, metavar="FILE",
              help="Households file (CSV, Parquet, or .xlsx/.ods workbook).")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="Date the files are checked at (YYYY-MM-DD; default today).")
@db_option
def import_command(children: str, households: str, as_of: str | None, db: str | None) -> None:
    """Validate both files exactly as every command does, then load them
    into the store in one transaction: rows updated by id, every previous
    version kept, rows the files leave out kept as they are."""
    where = api.store_location(db)
    done = api.import_files(children, households, _parse_date(as_of, "--as-of"), db)
    _echo_warnings(done.warnings)
    for table in (done.children, done.households):
        line = (f"{table.table}: {table.added} added, {table.updated} updated, {table.unchanged} unchanged")
        if table.left_out:
            line += (f"; {_rows(table.left_out)} in the store not in the file, left as {'it was' if table.left_out == 1 else 'they were'}")
        click.echo(line)
        if table.kept_status:
            click.echo(f"{table.table}: kept the register's status of {_rows(len(table.kept_status))} that a link "
                       "holds, over the file's: " + ", ".join(f"{row_id} {ours} (file: {theirs})"
                                                           for row_id, ours, theirs in table.kept_status))
    click.echo(f"imported into {where}")


@cli.command("export")
@click.option("--out", "out", required=True, metavar="DIR", help="Folder to write children.csv and households.csv to.")
@click.option("--force", is_flag=True, default=False, help="Replace a region already in the folder.")
@db_option
def export_command(out: str, force: bool, db: str | None) -> None:
    """Write the register as the contract's children.csv and households.csv
    (defaults written out), which import back to the same rows."""
    api.check_output_folder(out)
    api.check_region_folder(out, replace=force)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise InputError(Problem("command line", None, "--out", out, f"a folder that can be made ({exc.strerror})")) \
            from None
    paths = api.export_store(db, out)
    click.echo(f"wrote {paths[0]} and {paths[1]} from {api.store_location(db)}")


@cli.command("history")
@click.option("--child", "child_id", default=None, metavar="ID", help="Show every version of this child's row.")
@click.option("--household", "household_id", default=None, metavar="ID",
              help="Show every version of this household's row.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines to read, or JSON for other programs.")
@db_option
def history_command(child_id: str | None, household_id: str | None, fmt: str, db: str | None) -> None:
    """Every version of a child's or a household's row: when, who, what changed."""
    from matcher.cli.render import dumps

    if (child_id is None) == (household_id is None):
        raise InputError(Problem("command line", None, "--child/--household", None,
                                 "exactly one of --child ID or --household ID"))
    result = api.history(db, child_id=child_id, household_id=household_id)
    if fmt == "json":
        click.echo(dumps(result))
        return
    what = "child" if result["table"] == "children" else "household"
    count = len(result["versions"])
    click.echo(f"{what} {result['id']}: {count} version{'' if count == 1 else 's'}")
    for version in result["versions"]:
        if version["changed"] is None:
            change = "first imported"
        else:
            change = "changed " + "; ".join(f"{column} {before!r} -> {after!r}"
                                            for column, (before, after) in version["changed"].items())
        click.echo(f"  version {version['version']}  {version['at']}  by {version['who']}: {change}")


@cli.command("exclude")
@click.option("--child", "child_id", required=True, metavar="ID", help="The child of the pair.")
@click.option("--household", "household_id", required=True, metavar="ID", help="The household of the pair.")
@click.option("--reason", "reason", required=True, metavar="TEXT", help="Why (recorded with who and when).")
@click.option("--undo", is_flag=True, default=False, help="Lift the exclusion in force instead.")
@db_option
def exclude_command(child_id: str, household_id: str, reason: str, undo: bool, db: str | None) -> None:
    """Rule a child-household pair out by hand: it is never ranked or
    proposed, and why-not reports it as rule 0 (excluded)."""
    done = api.exclude(db, child_id, household_id, reason, undo=undo)
    verb = "lifted the exclusion of" if undo else "excluded"
    click.echo(f"{verb} {child_id} and {household_id} ({done['who']}, {done['at']}): {done['reason']}")


@cli.group("link")
def link_group() -> None:
    """Move a unit-household link through its stages: proposed -> exploring
    -> linked -> matched -> placed, or declined or closed from any open
    state (re-open a declined or closed one with a reason)."""


def _link_command(action: str, summary: str):
    @link_group.command(action, help=summary)
    @click.option("--child", "child_id", required=True, metavar="ID", help="A child of the unit.")
    @click.option("--household", "household_id", required=True, metavar="ID", help="The household.")
    @click.option("--reason", "reason", default=None, metavar="TEXT",
                  help="Why (recorded; needed to decline, close or re-open).")
    @click.option("--from", "from_state", default=None, metavar="STATE",
                  help="The state the link must be in (default: the state read at the start); if it moved, "
                       "nothing is changed and you are told what changed.")
    @db_option
    def command(child_id, household_id, reason, from_state, db) -> None:
        # --user (from db_option) sets whom the OS user acts for, for the link's history and the audit.
        done = api.move_link(db, action, child_id, household_id, reason=reason, from_state=from_state)
        start = "new" if done["from_state"] is None else done["from_state"]
        who = done["who"] + (f" acting for {done['acting_for']}" if done["acting_for"] else "")
        line = (f"link {done['unit_id']} ({', '.join(done['child_ids'])}) - {done['household_id']}: {start} -> "
                f"{done['state']} ({who}, {done['at']})")
        click.echo(line + (f": {done['reason']}" if done["reason"] else ""))

    return command


for _action, _summary in (
        ("propose", "Propose a link (or re-open a declined or closed one, with --reason)."),
        ("explore", "Start exploring a proposed link (its household and unit are still ranked elsewhere)."),
        ("link", "Link: the household and the unit are no longer ranked or proposed elsewhere."),
        ("match", "Match a linked pair."),
        ("place", "Place the unit with the household."),
        ("decline", "Decline the link (--reason needed): the pair is never proposed again unless re-opened."),
        ("close", "Close the link (--reason needed): the unit and the household are free again."),
        ("reopen", "Re-open a declined or closed link as proposed (--reason needed)."),
):
    _link_command(_action, _summary)


@link_group.command("list")
@click.option("--child", "child_id", default=None, metavar="ID", help="Only the links of the unit holding this child.")
@click.option("--state", "state", default=None, type=click.Choice(list(api.LINK_STATES)),
              help="Only links in this state.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines to read, or JSON for other programs.")
@db_option
def link_list(child_id, state, fmt, db) -> None:
    """Every link with its state and its last move."""
    from matcher.cli.render import dumps

    links = api.list_links(db, child_id=child_id, state=state)
    if fmt == "json":
        click.echo(dumps({"links": links}))
        return
    click.echo(f"{len(links)} link{'' if len(links) == 1 else 's'}")
    for link in links:
        last = link["last"]
        who = last["who"] + (f" acting for {last['acting_for']}" if last["acting_for"] else "")
        click.echo(f"  {link['unit_id']} ({', '.join(link['child_ids'])}) - {link['household_id']}: {link['state']}"
                   f" since {last['at']} ({who})")


@link_group.command("show")
@click.option("--child", "child_id", required=True, metavar="ID", help="A child of the unit.")
@click.option("--household", "household_id", required=True, metavar="ID", help="The household.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines to read, or JSON for other programs.")
@db_option
def link_show(child_id, household_id, fmt, db) -> None:
    """A link's history: every move, who made it (and for whom), when and why."""
    from matcher.cli.render import dumps, link_lines

    link = api.show_link(db, child_id, household_id)
    click.echo(dumps(link) if fmt == "json" else link_lines(link))


@cli.command("audit-log")
@click.option("--child", "child_id", default=None, metavar="ID", help="Only rows about this child.")
@click.option("--user", "user", default=None, metavar="NAME",
              help="Only rows by this operating-system user or acting for this person.")
@click.option("--since", "since", default=None, metavar="DATE", help="Only rows from this day on (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Lines to read, or JSON for other programs.")
@click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)
def audit_log_command(child_id: str | None, user: str | None, since: str | None, fmt: str, db: str | None) -> None:
    """Who read or changed which record in the store, when, what and how."""
    from matcher.cli.render import dumps

    day = None if since is None else api.iso_date("since", since)
    rows = api.audit_log(db, child_id=child_id, user=user, since=day)
    if fmt == "json":
        click.echo(dumps(rows))
        return
    for row in rows:
        who = row["who"] + (f" for {row['acting_for']}" if row["acting_for"] else "")
        about = " ".join(f"{k} {row[k]}" for k in ("child_id", "household_id") if row[k])
        click.echo(f"{row['at']}  {who} ({row['how']})  {row['action']}  {about + ': ' if about else ''}{row['what']}")
    click.echo(f"{len(rows)} audit row{'' if len(rows) == 1 else 's'}", err=True)


def _store_record(children: str | None, db: str | None) -> str | None:
    """The store a store-mode result was read from, for its manifest."""
    return None if children is not None else api.store_provenance(api.query_store(db))


@cli.command("validate-proposal")
@click.option("--links", "links", required=True, metavar="FILE", help="A links file written by propose.")
def validate_proposal(links: str) -> None:
    """Check that a links file, its summary and its manifest belong
    together, and that the input files they name are unchanged."""
    found = api.check_proposal_files(links)
    for line in found.checked:
        click.echo(f"ok: {line}")
    if found.problems:
        click.echo(InputError(list(found.problems)).render(limit=None), err=True)
        sys.exit(2)
    click.echo(f"{links}: its summary and manifest describe it")


@cli.group("user")
def user_group() -> None:
    """Accounts of the web pages (`matcher serve`): add, disable, enable, reset a password."""


def _read_password() -> str:
    """The new password: typed twice at a terminal, else one line of
    standard input (never a command-line argument, which other users of
    the machine can see)."""
    if sys.stdin.isatty():
        return click.prompt("password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


@user_group.command("add")
@click.option("--username", "username", required=True, metavar="NAME", help="The login name.")
@click.option("--role", "role", required=True, type=click.Choice(["family_finder", "agency_manager", "admin"]),
              help="What the account may do.")
@click.option("--agency", "agency_id", default=None, metavar="ID",
              help="The agency the account acts for (needed for every role but admin).")
@db_option
def user_add(username: str, role: str, agency_id: str | None, db: str | None) -> None:
    """Add a web account; the password is read from standard input."""
    added = api.add_user(db, username, role, agency_id, _read_password())
    click.echo(f"added user {added.username} ({added.role}, agency {added.agency_id or 'none'}) to "
               f"{api.store_location(db)}")


@user_group.command("disable")
@click.option("--username", "username", required=True, metavar="NAME", help="The account to disable.")
@db_option
def user_disable(username: str, db: str | None) -> None:
    """Disable an account: its sessions end at once."""
    api.set_user_disabled(db, username, True)
    click.echo(f"disabled {username}; its sessions have ended")


@user_group.command("enable")
@click.option("--username", "username", required=True, metavar="NAME", help="The account to enable again.")
@db_option
def user_enable(username: str, db: str | None) -> None:
    """Enable a disabled account again."""
    api.set_user_disabled(db, username, False)
    click.echo(f"enabled {username}")


@user_group.command("reset-password")
@click.option("--username", "username", required=True, metavar="NAME", help="The account whose password to reset.")
@db_option
def user_reset_password(username: str, db: str | None) -> None:
    """Reset an account's password to a temporary one read from standard
    input: its sessions end and it must set a new one at its next login."""
    api.reset_password(db, username, _read_password())
    click.echo(f"reset the password of {username}; its sessions have ended and it must set a new password at "
               "its next login")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default="8000", show_default=True, metavar="PORT", help="Port to listen on (1-65535).")
@click.option("--demo", is_flag=True, default=False,
              help="Serve a throwaway store: a generated region and one account per role (passwords printed once).")
@click.option("--out", "out", default=None, metavar="DIR",
              help="With --demo: the folder for the demo's region and store (default: a new temporary folder).")
@db_option
def serve(host: str, port: str, db: str | None, demo: bool, out: str | None) -> None:
    """Serve the pages and the JSON API (OpenAPI at /openapi.json) over the
    register (with --demo, over a throwaway one)."""
    import uvicorn

    from matcher.web.app import create_app

    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise InputError(Problem("command line", None, "--port", port, "a port number from 1 to 65535"))
    if demo:
        if db is not None:
            raise InputError(Problem("command line", None, "--db", db, "no --db with --demo (it makes its own store)"))
        from matcher.cli.serve_demo import demo_store, print_accounts

        folder, db, accounts = demo_store(out, dt.date.today())
        print_accounts(folder, db, accounts, f"http://{host}:{number}")
    elif out is not None:
        raise InputError(Problem("command line", None, "--out", out, "--out only with --demo"))
    api.store_provenance(db)  # a store that is not there or not initialised is refused before serving
    api.load_scorer()  # queries use the compiled scorer from the first one
    click.echo(f"serving {api.store_location(db)} on http://{host}:{number} (OpenAPI at /openapi.json)", err=True)
    uvicorn.run(create_app(db), host=host, port=number, log_level="warning")


@cli.command("weights")
@click.option("--weights", "weights_file", default=None, metavar="FILE", help="Show these weights instead.")
def weights_command(weights_file) -> None:
    """Print the scorer weights (defaults, or a file's) as TOML, with a
    sentence for each."""
    click.echo(api.describe_weights(api.load_weights(weights_file)))


@cli.command()
@click.option("--out", "out", default="demo-output", show_default=True, metavar="DIR",
              help="Folder for the demo region and its report.")
@click.option("--seed", default="7", show_default=True, metavar="N",
              help=f"Random seed of the demo region ({allowed('seed')}).")
@click.option("--as-of", "as_of", default="2026-06-30", show_default=True, metavar="DATE",
              help="Date the demo region is drawn and measured at (YYYY-MM-DD).")
@click.option("--force", is_flag=True, default=False,
              help="Replace a region in the folder that an earlier demo did not write.")
def demo(out: str, seed: str, as_of: str, force: bool) -> None:
    """Make a synthetic region, validate it and show what matcher does."""
    from matcher.cli.demo import run_demo

    day = _parse_date(as_of, "--as-of")
    seed = api.number("seed", seed)
    api.check_output_folder(out)
    # A second demo replaces the first; any other region needs --force.
    api.check_region_folder(out, replace=force, made_by="demo")
    run_demo(out, seed, day)


# --- exchange days ------------------------------------------------------------------------------------------------

FLAGS.update({"event": "--event", "lock": "--lock", "absent": "--absent"})


@cli.command("exchange-day")
@data_options
@click.option("--event", "event", required=True, metavar="FILE",
              help="The event (JSON, CONTRACT.md \"exchange-day event\"): tables with their units and capacity, "
                   "households, slots, meeting limits, requests.")
@click.option("--out", "out", required=True, metavar="DIR",
              help="Folder for the schedule, the meetings per unit, the summary and the pages (made if needed).")
@click.option("--lock", "lock", default=None, metavar="FILE",
              help="A schedule CSV (the output's own columns) whose meetings are kept in their slots.")
@click.option("--absent", "absent", default=None, metavar="H1,H2",
              help="Households that did not come (comma-separated): left out, their locked meetings dropped.")
@click.option("--time-limit", default="60", show_default=True, metavar="SECONDS",
              help=f"CP-SAT time limit for each of its two stages ({allowed('time_limit_s')}).")
@click.option("--seed", default="0", show_default=True, metavar="N",
              help=f"CP-SAT random seed ({allowed('solver_seed')}); the same seed gives the same schedule.")
@weights_option
def exchange_day_command(children, households, db, as_of, event, out, lock, absent, time_limit, seed,
                         weights_file) -> None:
    """Plan an exchange day: who meets which child's social workers, in
    which slot (CP-SAT), with a printable page per household and per table.
    With --lock and --absent, re-plan on the day, keeping what was held or
    promised."""
    inputs = {"children": children, "households": households, "event": event, "lock": lock, "weights": weights_file}
    api.check_exchange_output(out, inputs)
    api.number("time_limit_s", time_limit)
    api.number("solver_seed", seed)
    weights = api.load_weights(weights_file)
    region = load_region(children, households, as_of, db)
    planned = api.read_exchange_event(event, region)
    away = [h.strip() for h in absent.split(",") if h.strip()] if absent else []
    day = api.exchange_day(region, planned, weights=weights, absent=away, lock=lock, time_limit_s=time_limit,
                           seed=seed)
    _audit_read(children, db, "exchange-day", f"exchange-day {event} to {out}")
    options = {"absent": list(day.absent), "time_limit_s": float(time_limit), "seed": int(seed), "workers": 1}
    made = api.exchange_provenance(event=event, lock=lock, children=children, households=households,
                                   as_of=region.as_of, options=options, weights=weights,
                                   store=_store_record(children, db))
    api.write_exchange_day(region, day, out, made, inputs, weights)
    for line in api.exchange_day_summary(day):
        click.echo(line)
    click.echo(f"solver time {day.wall_time_s:.2f} s", err=True)
    click.echo(f"wrote the schedule, units.csv, summary.txt, {len(planned.household_ids) - len(day.absent)} household "
               f"pages and {len(planned.tables)} table pages to {out}", err=True)
# --- the pool report and budgets files (issue 11) ------------------------------------------------------------------

FLAGS.update({"budgets_file": "--budgets", "proposal": "--proposal"})


def _budgets(flags, budgets_file: str | None) -> dict[str, int]:
    """``--budget`` flags merged with a ``--budgets`` file (an agency given
    twice is bad input naming where)."""
    given = api.parse_budgets(flags)
    return given if budgets_file is None else api.read_budgets(budgets_file, given)


BUDGETS_FILE_HELP = ("A CSV file agency_id,amount of budgets (whole pounds, as --budget takes them), merged with "
                     "any --budget flags; an agency given twice is an error.")


def _with_budgets_file(command: click.Command) -> click.Command:
    """``propose --budgets FILE``: the file's budgets are read first (bad
    input exits 2 naming file, row and column, before anything is done)
    and handed to propose as the ``--budget`` flags they equal."""
    command.params.append(click.Option(["--budgets", "budgets_file"], default=None, metavar="FILE",
                                       help=BUDGETS_FILE_HELP))
    inner = command.callback

    def callback(*args, budgets_file=None, **kwargs):
        if budgets_file is not None:
            api.plan_output(kwargs["out"], inputs={"children": kwargs["children"], "households": kwargs["households"],
                                                   "weights": kwargs["weights_file"], "budgets": budgets_file},
                            summary=True)
            merged = _budgets(kwargs["budgets"], budgets_file)
            kwargs["budgets"] = tuple(f"{agency}={amount}" for agency, amount in sorted(merged.items()))
        return inner(*args, **kwargs)

    command.callback = callback
    return command


_with_budgets_file(propose)


@cli.command("report")
@data_options
@click.option("--out", "out", required=True, metavar="FILE", help="The report to write (.html).")
@click.option("--proposal", "proposal", default=None, metavar="LINKS",
              help="A links file written by propose whose fees and fairness to report (with --db and no "
                   "--proposal: the store's latest recorded proposal).")
@click.option("--budget", "budgets", multiple=True, metavar="AGENCY=AMOUNT",
              help=f"A child's agency's budget for inter-agency fees, in {allowed('budgets')} (repeatable).")
@click.option("--budgets", "budgets_file", default=None, metavar="FILE", help=BUDGETS_FILE_HELP)
@click.option("--seed", default="0", show_default=True, metavar="N",
              help=f"Seed of the counterfactual's sample of units ({allowed('seed')}).")
@weights_option
def report_command(children, households, db, as_of, out, proposal, budgets, budgets_file, seed, weights_file) -> None:
    """One self-contained HTML report: units short of families (with near
    misses), waiting against the scorecard, the fees a proposal would
    commit against budgets, and fairness across groups of children."""
    store = _data_source(children, households, db)
    path = api.plan_report(out, inputs={"children": children, "households": households, "weights": weights_file,
                                        "proposal": proposal, "budgets": budgets_file})
    seed = api.number("seed", seed)
    given = _budgets(budgets, budgets_file)
    options = api.QueryOptions(weights=api.load_weights(weights_file))
    region = load_region(children, households, as_of, db)
    if proposal is not None:
        links = api.proposal_from_file(region, proposal, options.weights)
    else:
        links = None if store is None else api.latest_proposal(store, region)
    data = (f"{children} and {households}" if store is None else api.store_provenance(store))
    report = api.report_data(region, options, data=data, proposal=links, budgets=given, seed=seed,
                             weights_file=weights_file)
    _audit_read(children, db, "report", f"pool report to {out}")
    api.write_report(report, path)
    click.echo(f"wrote the report to {path}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, map errors to exit statuses."""
    try:
        with api.acting(how="cli"):
            cli.main(args=argv, prog_name="matcher", standalone_mode=False)
    except InputError as error:
        click.echo(f"error: {_on_the_command_line(error).render()}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("MATCHER_DEBUG"):
            raise
        name = "" if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: "
        text = getattr(exc, "template", None) or str(exc)
        click.echo(f"error: {name}{api.name_options(text, FLAGS)}", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
