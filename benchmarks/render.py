"""Tables and scaling plots from the suite's JSON results.

``render(results_dir, readme)`` writes one SVG a case (``CASE.svg``: time
against size, log-log, one line a series, the fitted exponent in the
legend) into ``results_dir`` and replaces the block between
:data:`BEGIN` and :data:`END` in ``readme`` (appended when the markers are
missing); nothing else in the file changes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

BEGIN = "<!-- generated:begin -->"
END = "<!-- generated:end -->"


def load_results(results_dir: Path, order: list[str] | None = None) -> list[dict]:
    docs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "case" in doc and "sizes" in doc:
            docs.append(doc)
    rank = {name: i for i, name in enumerate(order or [])}
    return sorted(docs, key=lambda d: (rank.get(d["case"], len(rank)), d["case"]))


def _si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    for scale, prefix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{prefix} {unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.01:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def _size_text(size: dict) -> str:
    return ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in size.items())


def _cell(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return _seconds(value)
    if unit == "ratio":
        return f"{value:.3g}"
    return _si(value, unit)


def case_markdown(doc: dict, svg_link: str | None) -> str:
    m = doc["machine"]
    lines = [f"### `{doc['case']}`: {doc['title']}", ""]
    lines.append(f"{'Quick' if doc.get('quick') else 'Full'} run {doc['date']} on {m.get('host')}: {m.get('cpu')}, "
                 f"{m.get('cores')} cores, {m.get('memory_gib')} GiB, Python {m.get('python')}; load average "
                 f"{' / '.join(map(str, doc.get('load_average_before', [])))} before, "
                 f"{' / '.join(map(str, doc.get('load_average_after', [])))} after "
                 f"(git {doc.get('versions', {}).get('git')}).")
    if doc.get("notes"):
        lines += ["", doc["notes"]]
    refs = doc.get("references", {})
    if refs:
        lines += ["", f"Same-run references: numpy reads {refs['numpy_read_gbps_1t']:.1f} GB/s on one thread and "
                      f"{refs['numpy_read_gbps_2t']:.1f} GB/s on two ({refs['numpy_read_bytes'] >> 20} MiB); "
                      f"{refs['python_loop']}: {_si(refs['python_loop_pairs_per_s'], 'pairs/s')}."]
    series = list(dict.fromkeys(s for r in doc["sizes"] for s in r.get("series", {})))
    head = ["size", f"n ({doc['n_label']})", "wall (median)", "peak RSS", f"throughput ({doc['throughput_unit']})",
            "same-run reference", "ratio"] + series
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in doc["sizes"]:
        if "error" in row:
            lines.append(f"| {_size_text(row['size'])} | failed: {row['error'][:120].replace('|', '/')} |"
                         + " |" * (len(head) - 2))
            continue
        ref = row.get("reference") or {}
        cells = [_size_text(row["size"]), f"{row['n']:,}", _seconds(row["wall_s"]),
                 f"{row['peak_rss_mib']:,.0f} MiB", _si(row.get("throughput")),
                 f"{ref.get('name', '–')}: {_si(ref.get('value'))}" if ref else "–",
                 f"{row['throughput_ratio']:.3g}x" if row.get("throughput_ratio") else "–"]
        cells += [_seconds(row.get("series", {}).get(s)) for s in series]
        lines.append("| " + " | ".join(cells) + " |")
    exps = doc.get("exponents", {})
    lines += ["", "Growth exponent k (time ~ n^k, least squares on log-log): " + "; ".join(
        f"{name} {('%.2f' % k) if k is not None else '–'}" for name, k in exps.items()) + "."]
    targets = [(row, t) for row in doc["sizes"] for t in row.get("targets", [])]
    if targets:
        lines += ["", "| target | at | measured | limit | measured / reference against limit / reference (same run) | |",
                  "|---|---|---|---|---|---|"]
        for row, t in targets:
            ref = t.get("reference")
            ratio = (f"{_cell(t.get('value_ratio'), 'ratio')} against {_cell(t.get('limit_ratio'), 'ratio')} "
                     f"({ref['name']} = {_cell(ref['value'], t['unit'])})") if ref and t.get("limit_ratio") else "–"
            measured = _cell(t.get("value"), t["unit"]) if t.get("value") is not None else "not reached"
            if t.get("condition") is False:
                measured += f", not {t.get('condition_text', 'as required')}"
            lines.append(f"| {t['name']} | {_size_text(row['size'])} | {measured} | "
                         f"{_cell(t['limit'], t['unit'])} | {ratio} | {'met' if t['met'] else '**NOT met**'} |")
    extra = [(row, row["metrics"]) for row in doc["sizes"] if row.get("metrics")]
    if extra:
        lines += ["", "<details><summary>metrics</summary>", ""]
        for row, metrics in extra:
            text = ", ".join(f"{k} {_metric(v)}" for k, v in metrics.items())
            lines.append(f"- {_size_text(row['size'])}: {text}")
        lines += ["", "</details>"]
    if svg_link:
        lines += ["", f"![{doc['case']} scaling]({svg_link})"]
    return "\n".join(lines)


def _metric(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_metric(v)}" for k, v in value.items()) + "}"
    return str(value)


def plot(doc: dict, path: Path) -> Path:
    """A log-log SVG of every series (and the headline time) against n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "matcher-benchmarks"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: small files
    rows = [r for r in doc["sizes"] if "error" not in r]
    series = list(dict.fromkeys(s for r in rows for s in r.get("series", {}))) or ["wall"]
    exps = doc.get("exponents", {})
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name in series:
        pts = [(r["n"], r["wall_s"] if name == "wall" else r.get("series", {}).get(name)) for r in rows]
        pts = [(n, t) for n, t in pts if t]
        if not pts:
            continue
        k = exps.get(name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                label=f"{name} (k = {k:.2f})" if k is not None else name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(doc["n_label"])
    ax.set_ylabel("seconds")
    load = (doc.get("load_average_before") or [None])[0]
    ax.set_title(f"{doc['case']}: {doc['date'][:16].replace('T', ' ')} UTC, {doc['machine'].get('cores')} cores, "
                 f"load {load}" + (" (quick)" if doc.get("quick") else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format=path.suffix.lstrip(".") or "svg", metadata={"Date": None} if path.suffix != ".png" else None)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def block(docs: list[dict], svg_links: dict[str, str]) -> str:
    intro = ("## Benchmark suite (generated)\n\nRendered by `python -m benchmarks --render` from "
             "`benchmarks/results/*.json`; do not edit by hand between the markers. Peak RSS: "
             + (docs[0]["memory_method"] if docs else "") + ".")
    parts = [intro] + [case_markdown(d, svg_links.get(d["case"])) for d in docs]
    return "\n\n".join(parts)


def replace_block(text: str, body: str) -> str:
    """``text`` with the generated block replaced (or appended)."""
    new = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + new + tail
    return text.rstrip("\n") + "\n\n" + new + "\n"


def render(results_dir: Path, readme: Path, order: list[str] | None = None, *, svg_prefix: str = "results/") -> list[Path]:
    """Write the SVGs and the README block; the paths written."""
    results_dir = Path(results_dir)
    docs = load_results(results_dir, order)
    written, links = [], {}
    for doc in docs:
        svg = plot(doc, results_dir / f"{doc['case']}.svg")
        written.append(svg)
        links[doc["case"]] = f"{svg_prefix}{svg.name}"
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    fd, tmp = tempfile.mkstemp(dir=readme.parent, prefix=f".{readme.name}.", suffix=".tmp")
    os.chmod(tmp, readme.stat().st_mode & 0o777 if readme.exists() else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(replace_block(text, block(docs, links)))
    os.replace(tmp, readme)
    written.append(readme)
    return written
