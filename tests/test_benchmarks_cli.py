"""The benchmark suite's front end and its pure parts (issue 12 items 7-8):
``--help`` and ``--list`` start nothing, the exponent fit, the JSON writer
and the renderer on synthetic results. No benchmark runs here."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import render, suite

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_help_prints_the_options_and_starts_nothing(tmp_path):
    before = sorted((ROOT / "benchmarks").rglob("*.json"))
    done = _run("--help")
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--case", "--list", "--profile", "--out", "--render"):
        assert option in done.stdout
    assert "==" not in done.stdout  # no case started
    assert sorted((ROOT / "benchmarks").rglob("*.json")) == before


def test_list_names_every_case():
    done = _run("--list")
    assert done.returncode == 0, done.stderr
    for name in ("scoring", "rank", "matching", "propose", "propose_budgets", "exchange", "import"):
        assert f"\n{name}: " in "\n" + done.stdout
    assert "quick:" in done.stdout


def test_an_unknown_case_is_refused_with_exit_2():
    done = _run("--case", "no-such-case", "--out", "/nonexistent-benchmarks-out")
    assert done.returncode == 2
    assert "no-such-case" in done.stderr


def test_every_case_has_three_sizes_or_more_full_and_quick():
    for spec in suite.load_cases().values():
        assert len(spec.sizes) >= 3 and len(spec.quick) >= 3, spec.name


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0])
def test_the_exponent_fit_recovers_a_power_law(k):
    ns = [100, 1_000, 10_000, 100_000]
    assert suite.fit_exponent(ns, [3e-7 * n ** k for n in ns]) == pytest.approx(k, abs=1e-3)


def test_the_exponent_fit_skips_missing_points_and_needs_two_sizes():
    assert suite.fit_exponent([10, 100, 1000], [1.0, None, 10_000.0]) == pytest.approx(2.0)
    assert suite.fit_exponent([10, 10], [1.0, 2.0]) is None
    assert suite.fit_exponent([10], [1.0]) is None


def _synthetic_rows() -> list[dict]:
    rows = []
    for n in (1_000, 10_000, 100_000):
        rows.append(suite.finish_row({
            "size": {"households": n}, "n": n, "wall_s": 1e-8 * n ** 2, "times_s": [1e-8 * n ** 2],
            "throughput": n / (1e-8 * n ** 2), "reference": {"name": "loop", "value": 1e4, "unit": "x/s"},
            "series": {"ours": 1e-8 * n ** 2, "peer": 1e-6 * n}, "peak_rss_mib": 100.0,
            "targets": [{"name": "<= 1 s", "value": 1e-8 * n ** 2, "limit": 1.0, "unit": "s",
                         "reference": {"name": "loop", "value": 0.5}}]}))
    return rows


def test_rows_get_their_ratio_and_target_verdicts():
    rows = _synthetic_rows()
    assert rows[0]["throughput_ratio"] == pytest.approx(rows[0]["throughput"] / 1e4)
    assert [r["targets"][0]["met"] for r in rows] == [True, True, False]
    assert rows[2]["targets"][0]["limit_ratio"] == pytest.approx(2.0)
    higher = suite.finish_row({"n": 1, "wall_s": 1, "targets": [{"name": "x", "value": 5, "limit": 10,
                                                                  "unit": "x", "better": "higher"}]})
    assert higher["targets"][0]["met"] is False
    fast_but_unproven = suite.finish_row({"n": 1, "wall_s": 1, "targets": [
        {"name": "x", "value": 1.0, "limit": 5.0, "unit": "s", "condition": False, "condition_text": "proven"}]})
    assert fast_but_unproven["targets"][0]["met"] is False
    assert "1 s, not proven" in render.case_markdown(
        {"case": "c", "title": "t", "machine": {}, "date": "d", "n_label": "n", "throughput_unit": "",
         "sizes": [{"size": {"a": 1}, "peak_rss_mib": 1.0, **fast_but_unproven}]}, None)


def test_json_writer_and_renderer_on_synthetic_results(tmp_path):
    spec = suite.Case("synthetic", "a made-up case", "things", [], [], lambda size, repeat: {}, throughput_unit="x/s")
    doc = suite.result_document(spec, _synthetic_rows(), quick=True, started="2026-12-04T00:00:00Z",
                                load_before=[1.0, 1.0, 1.0], load_after=[2.0, 2.0, 2.0],
                                references={"numpy_read_bytes": 1 << 20, "numpy_read_gbps_1t": 10.0,
                                            "numpy_read_gbps_2t": 18.0, "python_loop_pairs_per_s": 1e6,
                                            "python_loop": "a loop"})
    assert doc["exponents"]["wall"] == pytest.approx(2.0)
    assert doc["exponents"]["ours"] == pytest.approx(2.0)
    assert doc["exponents"]["peer"] == pytest.approx(1.0)
    assert doc["machine"]["cores"] and "VmHWM" in doc["memory_method"]
    path = suite.write_json(doc, tmp_path / "results" / "synthetic.json")
    assert json.loads(path.read_text())["sizes"][1]["n"] == 10_000
    assert [p.name for p in path.parent.iterdir()] == ["synthetic.json"]  # no temporary file left

    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nhand-written text\n\n<!-- generated:begin -->\nSTALE-BLOCK\n<!-- generated:end -->\n"
                      "\n## after\nmore hand-written text\n")
    written = render.render(tmp_path / "results", readme, svg_prefix="results/")
    text = readme.read_text()
    assert "hand-written text" in text and "## after\nmore hand-written text" in text
    assert "STALE-BLOCK" not in text.split("<!-- generated:begin -->")[1]
    assert text.count("<!-- generated:begin -->") == 1 and text.count("<!-- generated:end -->") == 1
    assert "### `synthetic`" in text and "| 100,000 |" in text
    assert "ours 2.00" in text and "peer 1.00" in text
    assert "**NOT met**" in text and "met |" in text
    assert "![synthetic scaling](results/synthetic.svg)" in text
    svg = tmp_path / "results" / "synthetic.svg"
    assert svg in written and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    # Rendering twice gives the same file (the block is replaced, not appended).
    render.render(tmp_path / "results", readme, svg_prefix="results/")
    assert readme.read_text() == text


def test_renderer_appends_the_block_when_the_markers_are_missing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nkept\n")
    (tmp_path / "results").mkdir()
    render.render(tmp_path / "results", readme)
    text = readme.read_text()
    assert text.startswith("# Benchmarks\n\nkept\n") and text.rstrip().endswith("<!-- generated:end -->")


def test_a_failed_size_is_recorded_and_left_out_of_the_fit():
    rows = [{"size": {"n": 1}, "n": 10, "wall_s": 1.0}, {"size": {"n": 2}, "error": "killed"},
            {"size": {"n": 3}, "n": 1000, "wall_s": 10.0}]
    assert suite.fits(rows)["wall"] == pytest.approx(0.5)
    assert not math.isnan(suite.fits(rows)["wall"])


def test_a_child_process_reports_its_own_peak_memory():
    grab = ("from benchmarks.suite import peak_rss_mib; b = bytearray({n} * 1024 * 1024); "
            "b[::4096] = b'x' * len(b[::4096]); print(peak_rss_mib())")
    code, _, big, _ = suite.run_child([sys.executable, "-c", grab.format(n=300)], 60)
    assert code == 0 and float(big) >= 300
    code, _, small, _ = suite.run_child([sys.executable, "-c", grab.format(n=1)], 60)
    assert code == 0 and float(small) < 200


def test_a_quick_run_without_out_does_not_write_over_the_full_results(monkeypatch, tmp_path):
    import benchmarks.__main__ as front

    seen = {}

    def fake_run_case(spec, *, quick, repeat, out_dir, log):
        seen["out"], seen["quick"] = out_dir, quick
        return suite.write_json(suite.result_document(spec, [], quick=quick, started="d", load_before=[],
                                                      load_after=[]), tmp_path / f"{spec.name}.json")

    monkeypatch.setattr(suite, "run_case", fake_run_case)
    assert front.main(["--quick", "--case", "rank", "--no-render"]) == 0
    assert seen == {"out": suite.RESULTS / "quick", "quick": True}
