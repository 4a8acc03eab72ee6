"""The benchmark suite's runner: a registry of cases, one child process per
(case, size), JSON results with the machine, the load and the fitted growth
exponent. ``python -m benchmarks --help`` is the front end.

A case is a function ``measure(size, repeat) -> dict`` registered with
:func:`case`. Add one by decorating a function in ``benchmarks/cases.py`` or
in a new module ``benchmarks/cases_<topic>.py`` (found automatically). The
dict it returns has:

- ``n``: the size the growth exponent is fitted on (what ``n_label`` says);
- ``wall_s``: the headline seconds (median of ``repeat`` runs) and
  ``times_s``: every run;
- optional ``throughput`` (a number, in ``throughput_unit``) and
  ``reference`` ({"name", "value", "unit"}: the same-run reference it is
  compared with; the ratio is computed here);
- optional ``series``: {name: seconds} for several things timed at this size
  (peers, stages); each gets its own exponent and plot line;
- optional ``metrics`` (anything JSON) and ``targets``: a list of
  {"name", "value", "limit", "unit", "better": "lower"|"higher",
  "reference": {"name", "value"} (optional), "condition": bool and
  "condition_text" (optional: what else must hold, e.g. "certified 0.1%")}.

Peak memory is the peak resident set size (``VmHWM``) of the child process
that measured the size, so it includes the interpreter, the imports and the
case's inputs; a case's ``prepare(size)`` (making input files) runs in the
parent beforehand and is not counted.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CASE_MODULES = ("benchmarks.cases",)
MEMORY_METHOD = ("peak resident set size (VmHWM) of the child process that measured the size: interpreter, "
                 "imports and the case's inputs included; input files made beforehand in the parent")
VERSIONED = ("numpy", "scipy", "polars", "pyarrow", "ortools", "highspy", "lap", "networkx", "sqlalchemy",
             "matplotlib", "pyinstrument", "matcher")


@dataclass
class Case:
    """One benchmark case: what it measures, at which sizes, and how."""

    name: str
    title: str
    n_label: str
    sizes: list[dict]
    quick: list[dict]
    measure: Callable[[dict, int], dict]
    prepare: Callable[[dict], None] | None = None
    repeat: int = 3
    throughput_unit: str = ""
    timeout_s: float = 1800.0
    notes: str = ""
    extra: dict = field(default_factory=dict)


REGISTRY: dict[str, Case] = {}
PROFILING = False
"""True under ``--profile``: cases run their thread pools on one thread so
that the profile (of the main thread) sees the work."""


def case(name: str, *, title: str, n_label: str, sizes: list[dict], quick: list[dict], repeat: int = 3,
         prepare: Callable[[dict], None] | None = None, throughput_unit: str = "", timeout_s: float = 1800.0,
         notes: str = ""):
    """Register ``measure(size, repeat)`` as the case ``name``."""
    def register(measure):
        if name in REGISTRY and REGISTRY[name].measure is not measure:
            raise ValueError(f"benchmark case {name!r} registered twice")
        REGISTRY[name] = Case(name, title, n_label, list(sizes), list(quick), measure, prepare, repeat,
                              throughput_unit, timeout_s, notes)
        return measure
    return register


def load_cases() -> dict[str, Case]:
    """Import every case module (``benchmarks.cases`` and each
    ``benchmarks/cases_*.py``) and return the registry."""
    names = list(CASE_MODULES) + sorted(f"benchmarks.{m.name}" for m in pkgutil.iter_modules([str(HERE)])
                                        if m.name.startswith("cases_"))
    for module in names:
        importlib.import_module(module)
    return REGISTRY


# -- facts about the machine and the run ---------------------------------------------------------------------

def machine_info() -> dict:
    cpu, memory = "unknown", None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                    text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git"] = None
    return out


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- the growth exponent -----------------------------------------------------------------------------------

def fit_exponent(ns, seconds) -> float | None:
    """k in time ~ c * n^k: least squares on log time against log n, over
    the points with a positive size and time (None with fewer than two
    distinct sizes)."""
    points = [(math.log(n), math.log(t)) for n, t in zip(ns, seconds)
              if n and t and n > 0 and t > 0 and math.isfinite(t)]
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(sxy / sxx, 3)


def fits(rows: list[dict]) -> dict:
    """The exponent of the headline time and of every series."""
    ok = [r for r in rows if "error" not in r]
    out = {"wall": fit_exponent([r["n"] for r in ok], [r["wall_s"] for r in ok])}
    for name in dict.fromkeys(s for r in ok for s in r.get("series", {})):
        pts = [(r["n"], r["series"][name]) for r in ok if r.get("series", {}).get(name) is not None]
        out[name] = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
    return out


def finish_row(row: dict) -> dict:
    """Adds the ratio of the throughput to its same-run reference and the
    verdict of every target."""
    ref = row.get("reference")
    if ref and row.get("throughput") and ref.get("value"):
        row["throughput_ratio"] = row["throughput"] / ref["value"]
    for target in row.get("targets", []):
        value, limit = target.get("value"), target["limit"]
        if value is None:
            target["met"] = False
            continue
        target["met"] = (value <= limit if target.get("better", "lower") == "lower" else value >= limit) \
            and target.get("condition", True)
        if target.get("reference", {}).get("value"):
            target["value_ratio"] = value / target["reference"]["value"]
            target["limit_ratio"] = limit / target["reference"]["value"]
    return row


# -- JSON --------------------------------------------------------------------------------------------------

def write_json(data: dict, path: Path) -> Path:
    """Write atomically (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, default=_jsonable)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (dt.date, Path)):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def result_document(spec: Case, rows: list[dict], *, quick: bool, started: str, load_before, load_after,
                    references: dict | None = None) -> dict:
    return {"case": spec.name, "title": spec.title, "notes": spec.notes, "n_label": spec.n_label,
            "throughput_unit": spec.throughput_unit, "quick": quick, "date": started, "finished": now(),
            "machine": machine_info(), "load_average_before": load_before, "load_average_after": load_after,
            "versions": versions(), "memory_method": MEMORY_METHOD, "references": references or {},
            "sizes": rows, "exponents": fits(rows)}


# -- running ------------------------------------------------------------------------------------------------

def run_child(argv: list[str], timeout_s: float) -> tuple[int, float, str, str]:
    """Run a child process; (return code, its own peak RSS in MiB, stdout,
    stderr). Killed after ``timeout_s``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        timer = threading.Timer(timeout_s, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, usage.ru_maxrss / 1024, out.read(), err.read()


MARK = "@@benchmark-result@@ "


def peak_rss_mib() -> float | None:
    """This process's peak resident set size since its exec (VmHWM), MiB.
    (``ru_maxrss`` would not do: Linux carries the parent's resident size at
    fork into a child's ``ru_maxrss`` across exec.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def measure_size(spec: Case, size: dict, repeat: int) -> dict:
    """Prepare then measure one size, each in a fresh child process."""
    base = [sys.executable, "-m", "benchmarks.suite", spec.name, json.dumps(size), str(repeat)]
    if spec.prepare is not None:
        try:
            spec.prepare(size)  # in this process: its memory is not the measured child's
        except Exception as error:  # noqa: BLE001 - recorded in the results, the suite goes on
            return {"size": size, "error": f"prepare failed: {type(error).__name__}: {error}"}
    start = time.perf_counter()
    code, maxrss_mib, out, err = run_child(base, spec.timeout_s)
    elapsed = time.perf_counter() - start
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith(MARK)), None)
    if code != 0 or line is None:
        why = "killed by the timeout" if elapsed >= spec.timeout_s else f"exit {code}"
        return {"size": size, "error": f"{why}: {err.strip()[-2000:]}"}
    row = json.loads(line[len(MARK):])
    row = {"size": size, **row, "child_s": round(elapsed, 3)}
    if row.get("peak_rss_mib") is None:  # no /proc: the child's ru_maxrss (counts the parent's RSS at fork)
        row["peak_rss_mib"] = round(maxrss_mib, 1)
    return finish_row(row)


def run_case(spec: Case, *, quick: bool, repeat: int | None, out_dir: Path, log=print) -> Path:
    from benchmarks.references import machine_references

    started, load_before = now(), load_average()
    references = machine_references()
    log(f"== {spec.name}: {spec.title} ({'quick' if quick else 'full'} sizes; load {load_before}; "
        f"numpy read {references['numpy_read_gbps_1t']:.1f} / {references['numpy_read_gbps_2t']:.1f} GB/s on 1 / 2 "
        f"threads; plain Python loop {references['python_loop_pairs_per_s'] / 1e6:.2f} M pairs/s)")
    rows = []
    for size in (spec.quick if quick else spec.sizes):
        row = measure_size(spec, size, repeat or spec.repeat)
        rows.append(row)
        log("   " + describe_row(spec, row))
    doc = result_document(spec, rows, quick=quick, started=started, load_before=load_before,
                          load_after=load_average(), references=references)
    log(f"   growth exponents: {doc['exponents']}")
    return write_json(doc, out_dir / f"{spec.name}.json")


def describe_row(spec: Case, row: dict) -> str:
    if "error" in row:
        return f"{row['size']}: FAILED {row['error'][-600:]}"
    text = f"n={row['n']:,}: {row['wall_s']:.4g} s, peak {row['peak_rss_mib']:.0f} MiB"
    if row.get("throughput"):
        text += f", {row['throughput']:.4g} {spec.throughput_unit}"
    for name, seconds in row.get("series", {}).items():
        text += f"; {name} {seconds:.4g} s" if seconds is not None else f"; {name} -"
    for target in row.get("targets", []):
        text += f"; target {target['name']}: {'met' if target['met'] else 'NOT met'}"
    return text


def child_main(argv: list[str]) -> int:
    """``python -m benchmarks.suite CASE SIZE_JSON REPEAT``: measure one size."""
    import benchmarks.suite as module  # the registry the case modules fill (not __main__'s copy)

    name, size, repeat = argv[0], json.loads(argv[1]), int(argv[2])
    spec = module.load_cases()[name]
    row = spec.measure(size, repeat)
    if row.get("peak_rss_mib") is None:  # a case may take it before its references run
        row["peak_rss_mib"] = peak_rss_mib()
    print(MARK + json.dumps(row, default=_jsonable), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1:]))
