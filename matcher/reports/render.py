"""The report as one self-contained HTML file: Jinja2 templates with
autoescaping, charts as inline SVG drawn by the templates, every chart
also given as a table, every table downloadable as CSV from a
``data:text/csv;base64,...`` link (no server, no network). The same data
give the same bytes."""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from matcher.files.write import FORMULA_STARTS
from matcher.reports.fairness import FOUR_FIFTHS, METRIC_WORDS, METRICS
from matcher.reports.pool import SHORT
from matcher.reports.report import ReportData

Cell = str | int | float | None


def cell_text(value: Cell) -> str:
    """How a cell is shown, and written in the CSV (numbers as they are)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def csv_cell(value: Cell) -> str:
    """A cell for a spreadsheet: text that would run as a formula gets a
    leading single quote (as the project's CSV writers do); numbers are
    left as they are (a negative change stays a number)."""
    text = cell_text(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


@dataclass(frozen=True)
class Table:
    """One table of the report, with its CSV download."""

    key: str  # the element id, and the download's file name
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([csv_cell(h) for h in self.headers])
        writer.writerows([csv_cell(c) for c in row] for row in self.rows)
        return out.getvalue()

    @property
    def href(self) -> str:
        return "data:text/csv;base64," + base64.b64encode(self.csv_text().encode("utf-8")).decode("ascii")

    @property
    def shown(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(cell_text(c) for c in row) for row in self.rows)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    flagged: bool = False


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart drawn as SVG by the template; ``table`` is
    the same figures for screen readers (and for download)."""

    key: str
    title: str
    bars: tuple[Bar, ...]
    scale: float  # the value of a full-width bar
    table: Table


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{100 * x:.1f}%"


def _chart(key: str, title: str, table: Table, label_col: int, value_col: int, values, flagged=None) -> Chart:
    bars = tuple(Bar(str(row[label_col]), float(v), cell_text(row[value_col]), bool(flagged and flagged[i]))
                 for i, (row, v) in enumerate(zip(table.rows, values)))
    scale = max((b.value for b in bars), default=0.0) or 1.0
    return Chart(key, title, bars, scale, table)


BUCKETS = ((0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 10**9, "11 or more"))


def _tables(data: ReportData) -> dict:
    pool, waiting, fees, fair = data.pool, data.waiting, data.fees, data.fairness
    profiles = Table("pool-profiles", "Waiting units and eligible approved households per child profile "
                                      "(profiles with units short of households first)",
                     ("age band (eldest)", "group size", "highest need", "waiting units", "with 0 eligible",
                      "with 1 eligible", "with 2 eligible", "eligible approved households", "households per unit"),
                     tuple((p.age_band, p.size_band, p.need_level, p.units, p.units_with_none, p.units_with_one,
                            p.units_with_two, p.eligible_households, round(p.eligible_households / p.units, 2))
                           for p in pool.profiles))
    short_rows = []
    for s in pool.short_units:
        misses = "; ".join(f"{m.household_id} (rule {m.rule}, {m.rule_name}: {m.message})" for m in s.near_misses)
        short_rows.append((s.unit_id, ";".join(s.child_ids), s.agency_id, " / ".join(s.profile), s.eligible,
                           misses or "none"))
    short = Table("pool-short", f"Waiting units with {SHORT} or fewer eligible approved households, fewest first, "
                                "with their near misses (households failing exactly one hard rule)",
                  ("unit", "children", "agency", "profile", "eligible households", "near misses"), tuple(short_rows))
    eligible_counts = [0] * len(BUCKETS)
    for u in pool.eligible_counts:
        for i, (lo, hi, _) in enumerate(BUCKETS):
            if lo <= u <= hi:
                eligible_counts[i] += 1
    buckets = Table("pool-buckets", "Waiting units by number of eligible approved households",
                    ("eligible households", "waiting units"),
                    tuple((label, n) for (_, _, label), n in zip(BUCKETS, eligible_counts)))
    agencies = Table("waiting-agencies", "Waiting children per agency against the scorecard thresholds",
                     ("agency", "waiting children", "with a placement order",
                      f"over {waiting.care_threshold_days} days in care (A1)",
                      f"over {waiting.order_threshold_days} days since the order (A2)", "mean days in care",
                      "longest days in care"),
                     tuple((a.agency_id, a.waiting_children, a.with_order, a.over_care, a.over_order,
                            a.mean_care_days, a.longest_care_days) for a in waiting.agencies))
    over_care = Table("waiting-over-a1", f"Waiting children over {waiting.care_threshold_days} days since entering "
                                         "care (A1), longest first",
                      ("child", "agency", "unit", "days in care", "days over"),
                      tuple((c.child_id, c.agency_id, c.unit_id, c.days, c.over_by) for c in waiting.over_care))
    over_order = Table("waiting-over-a2", f"Waiting children over {waiting.order_threshold_days} days since the "
                                          "placement order (A2), longest first",
                       ("child", "agency", "unit", "days since the order", "days over"),
                       tuple((c.child_id, c.agency_id, c.unit_id, c.days, c.over_by) for c in waiting.over_order))
    fee_table = Table("fees", "Inter-agency fees the proposal would commit, per child's agency, against budgets",
                      ("agency", "links", "inter-agency links", "fees", "budget", "left", "over budget"),
                      tuple((a.agency_id, a.links, a.inter_agency_links, a.fees, a.budget, a.left,
                             "yes" if a.over_budget else "no") for a in fees.agencies))
    groups = Table("fairness-groups", "Rates per group of children; a flag names each rate under four fifths "
                                      "(80%) of the best group's in its dimension",
                   ("dimension", "group", "waiting units", "share proposed", "share with an eligible household",
                    "mean best score", "mean eligible households", "flags"),
                   tuple((g.dimension, g.group, g.units, _pct(g.proposed), _pct(g.with_eligible),
                          None if g.mean_best_score is None else round(g.mean_best_score, 2),
                          round(g.mean_eligible, 2), ", ".join(METRIC_WORDS[f] for f in g.flags) or "none") for g in fair.groups))
    top = Table("fairness-concentration", "Households holding the most top-10 places (the top 1% of approved "
                                          "households)", ("household", "top-10 places"),
                fair.concentration.top_households)
    subs = Table("fairness-counterfactual", "Each ethnicity substituted into the sampled units: how far the best "
                                            "household's score and the unit's rank in households' lists move",
                 ("ethnicity substituted", "units", "mean change of best score", "largest change of best score",
                  "mean change of rank", "largest change of rank", "eligibility changes"),
                 tuple((s.ethnicity, s.units, round(s.mean_best_change, 2), round(s.largest_best_change, 2),
                        round(s.mean_rank_change, 2), s.largest_rank_change, s.eligibility_changes)
                       for s in fair.counterfactual.substitutions))
    return {"profiles": profiles, "short": short, "buckets": buckets, "agencies": agencies, "over_care": over_care,
            "over_order": over_order, "fees": fee_table, "groups": groups, "top": top, "subs": subs}


def _charts(data: ReportData, tables: dict) -> dict:
    buckets = tables["buckets"]
    charts = {"buckets": _chart("chart-buckets", "Waiting units by number of eligible households", buckets, 0, 1,
                                [r[1] for r in buckets.rows], [i <= 2 for i in range(len(buckets.rows))])}
    agencies = tables["agencies"]
    charts["over_care"] = _chart("chart-over-a1", f"Children over {data.waiting.care_threshold_days} days in care, "
                                 "per agency", agencies, 0, 3, [r[3] for r in agencies.rows])
    fees = tables["fees"]
    charts["fees"] = _chart("chart-fees", "Fees committed per agency (flagged: over budget)", fees, 0, 3,
                            [r[3] for r in fees.rows], [r[6] == "yes" for r in fees.rows])
    by_dimension = {}
    for g in data.fairness.groups:
        by_dimension.setdefault(g.dimension, []).append(g)
    charts["fairness"] = []
    for dimension, groups in by_dimension.items():
        table = Table(f"fairness-{dimension.replace(' ', '-')}", f"Share of waiting units with an eligible household, "
                                                                   f"by {dimension}",
                      (dimension, "share with an eligible household", "waiting units"),
                      tuple((g.group, _pct(g.with_eligible), g.units) for g in groups))
        charts["fairness"].append(_chart(f"chart-{table.key}", table.caption, table, 0, 1,
                                         [g.with_eligible for g in groups],
                                         ["with_eligible" in g.flags for g in groups]))
    return charts


def _environment() -> Environment:
    return Environment(loader=PackageLoader("matcher.reports", "templates"),
                       autoescape=select_autoescape(["html", "svg"], default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_report(data: ReportData) -> str:
    """The report's HTML."""
    tables = _tables(data)
    charts = _charts(data, tables)
    fair = data.fairness
    actions = {
        "no_household": sum(1 for s in data.pool.short_units if s.eligible == 0),
        "short": len(data.pool.short_units),
        "over_care": len(data.waiting.over_care),
        "over_order": len(data.waiting.over_order),
        "over_budget": [a.agency_id for a in data.fees.agencies if a.over_budget],
        "flagged": [g for g in fair.groups if g.flags],
    }
    return _environment().get_template("report.html").render(
        data=data, tables=tables, charts=charts, actions=actions, short_limit=SHORT, four_fifths=FOUR_FIFTHS,
        metrics=METRICS, metric_words=METRIC_WORDS)
