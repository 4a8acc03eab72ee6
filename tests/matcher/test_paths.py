"""Paths a user gives (issue 9, item 8): a weights file, an input file or
``--out`` that is a folder, a named pipe, a path under a regular file, or a
name too long for the file system exits 2 with one line naming it, writes
nothing and never hangs; a weights file nested thousands of tables deep
exits 2 naming the file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tests.conftest import AS_OF

LONG = "n" * 300  # longer than any file system's longest name (255 bytes on Linux and macOS)


class PipeGuard:
    """A named pipe that a reader could block on forever. If the command
    under test is still blocked after ``seconds``, the guard opens the
    pipe's other end so the test fails instead of hanging."""

    def __init__(self, path: Path, seconds: float = 20.0):
        self.path, self.fired = path, False
        os.mkfifo(path)
        self._timer = threading.Timer(seconds, self._release)
        self._timer.daemon = True

    def _release(self):
        self.fired = True
        fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


def _bad_path(kind: str, tmp_path: Path, name: str) -> Path:
    """A path of ``kind`` that cannot be used as the file ``name``."""
    if kind == "folder":
        (tmp_path / name).mkdir()
        return tmp_path / name
    if kind == "under a file":
        (tmp_path / "plain.txt").write_text("a file, not a folder\n", encoding="utf-8")
        return tmp_path / "plain.txt" / name
    if kind == "too long":
        return tmp_path / (LONG + Path(name).suffix)
    raise ValueError(kind)


KINDS = ["folder", "under a file", "too long"]
NEEDLES = {"folder": "folder", "under a file": "is a file, not a folder", "too long": "too long",
           "pipe": "named pipe"}


def _region(region_files) -> list:
    children, households = region_files
    return ["--children", children, "--households", households, "--as-of", AS_OF.isoformat()]


def _one_line_naming(err: str, path: Path, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path)[:200] in lines[0] and needle in lines[0], err
    assert "Error" not in err and "Traceback" not in err, err


# --- inputs: weights files, children and households files --------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_weights_file_that_is_no_file_exits_2_naming_it(region_files, run_cli, tmp_path, kind):
    weights = _bad_path(kind, tmp_path, "w.toml")
    status, _, err = run_cli("weights", "--weights", weights)
    assert status == 2
    _one_line_naming(err, weights, NEEDLES[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_an_input_file_that_is_no_file_exits_2_naming_it(region_files, run_cli, tmp_path, kind):
    children, households = region_files
    bad = _bad_path(kind, tmp_path, "kids.csv")
    out = tmp_path / "scores.csv"
    status, _, err = run_cli("scores", "--children", bad, "--households", households, "--as-of", AS_OF.isoformat(),
                             "--out", out)
    assert status == 2 and str(bad)[:200] in err and NEEDLES[kind] in err, err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("which", ["weights", "children"])
def test_a_named_pipe_is_refused_without_waiting_on_it(region_files, run_cli, tmp_path, which):
    children, households = region_files
    out = tmp_path / "scores.csv"
    with PipeGuard(tmp_path / f"{which}.pipe") as pipe:
        args = {"weights": ["--children", children, "--weights", pipe.path],
                "children": ["--children", pipe.path]}[which]
        status, _, err = run_cli("scores", *args, "--households", households, "--as-of", AS_OF.isoformat(),
                                 "--out", out)
    assert not pipe.fired, "the command waited on the named pipe"
    assert status == 2 and str(pipe.path) in err and "named pipe" in err, err
    assert not out.exists()


def test_a_weights_file_nested_thousands_of_tables_deep_exits_2_naming_it(run_cli, tmp_path):
    for i, text in enumerate(["[" + ".".join(["deep"] * 5000) + "]\nx = 1\n",
                              "x = " + "[" * 5000 + "]" * 5000 + "\n",
                              "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
                              "[factors]\n" + ".".join(["needs"] * 5000) + " = 1\n"]):
        path = tmp_path / f"deep{i}.toml"
        path.write_text(text, encoding="utf-8")
        status, _, err = run_cli("weights", "--weights", path)
        assert status == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "recursion" not in err, err
        assert len(err) < 400


# --- outputs: --out files and folders ------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["scores", "propose"])
@pytest.mark.parametrize("kind", KINDS + ["pipe"])
def test_an_out_file_that_cannot_be_written_exits_2_naming_it(region_files, run_cli, tmp_path, command, kind):
    if kind == "pipe":
        out = tmp_path / "links.csv"
        os.mkfifo(out)
    else:
        out = _bad_path(kind, tmp_path, "links.csv")
    before = sorted(p.name for p in tmp_path.rglob("*") if p.name != "plain.txt")
    status, _, err = run_cli(command, *_region(region_files), "--out", out)
    assert status == 2
    _one_line_naming(err, out, NEEDLES[kind])
    assert "--out" in err
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name != "plain.txt") == before
    if kind == "pipe":
        assert stat.S_ISFIFO(os.stat(out).st_mode)  # not replaced by a file


def test_an_out_name_leaves_room_for_the_summary_beside_it(region_files, run_cli, tmp_path):
    # 250 bytes is a legal name, but "NAME.summary.txt" beside it is not (255 at most).
    out = tmp_path / ("l" * 246 + ".csv")
    status, _, err = run_cli("propose", *_region(region_files), "--out", out)
    assert status == 2 and "at most 243 bytes" in err and ".csv.summary.txt" in err and "Error" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["children.csv", "households.csv"]


@pytest.mark.parametrize("command", ["generate", "demo"])
@pytest.mark.parametrize("kind", ["file", "pipe", "under a file", "too long"])
def test_an_out_folder_that_cannot_be_used_exits_2_naming_it(run_cli, tmp_path, command, kind):
    if kind == "file":
        out = tmp_path / "region"
        out.write_text("a file\n", encoding="utf-8")
    elif kind == "pipe":
        out = tmp_path / "region"
        os.mkfifo(out)
    else:
        out = _bad_path(kind, tmp_path, "region")
    args = ["--seed", "1", "--children", "5", "--households", "5"] if command == "generate" else ["--seed", "1"]
    before = sorted(tmp_path.rglob("*"))
    status, _, err = run_cli(command, *args, "--out", out, "--as-of", AS_OF.isoformat())
    assert status == 2
    _one_line_naming(err, out, {"file": "this is a file", "pipe": "named pipe"}.get(kind) or NEEDLES[kind])
    assert sorted(tmp_path.rglob("*")) == before
