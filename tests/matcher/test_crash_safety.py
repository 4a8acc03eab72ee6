"""Killing ``scores`` and ``propose`` at any moment leaves every file
whole-old or whole-new, never partial; a summary that does not describe the
links beside it is found by ``validate-proposal``; and no temporary file
survives the next run (issue 9, item 4).

Each command runs in a child process through a small driver that counts
the file-system steps of the run in the output folder (every write of a
table or a text file, every fsync, every rename) and kills the process with
SIGKILL in the middle of step k when it is a write (half the bytes
written), just before it when it is a rename, or after the last rename.
A few real SIGKILLs late in a whole run complete the picture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r'''
import builtins, io, os, signal, sys
import polars as pl

OUT = os.path.realpath(os.environ["KILL_IN"])
AT = int(os.environ["KILL_AT"])
MODE = os.environ["KILL_MODE"]
steps = []


def inside(path) -> bool:
    try:
        return os.path.realpath(os.fspath(path)).startswith(OUT + os.sep)
    except TypeError:
        return False


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def step(kind, half=None) -> None:
    n = len(steps)
    steps.append(kind)
    if n == AT:
        if MODE == "during" and half is not None:
            half()
        die()


def table_writer(original):
    def write(self, file=None, *args, **kwargs):
        if file is None or not inside(file):
            return original(self, file, *args, **kwargs)

        def half():
            original(self, file, *args, **kwargs)
            size = os.path.getsize(file)
            with open(file, "r+b") as handle:
                handle.truncate(size // 2)
        step("write", half)
        return original(self, file, *args, **kwargs)
    return write


pl.DataFrame.write_csv = table_writer(pl.DataFrame.write_csv)
pl.DataFrame.write_parquet = table_writer(pl.DataFrame.write_parquet)


class Watched:
    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        def half():
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
        step("write", half)
        return self._handle.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._handle, name)


real_open = builtins.open


def watched_open(file, mode="r", *args, **kwargs):
    handle = real_open(file, mode, *args, **kwargs)
    if any(m in mode for m in "wax+") and inside(file):
        return Watched(handle)
    return handle


builtins.open = io.open = watched_open

real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename


def fsync(fd):
    step("fsync")
    return real_fsync(fd)


def replace(src, dst, *args, **kwargs):
    if inside(dst):
        step("rename")
    return real_replace(src, dst, *args, **kwargs)


def rename(src, dst, *args, **kwargs):
    if inside(dst):
        step("rename")
    return real_rename(src, dst, *args, **kwargs)


os.fsync, os.replace, os.rename = fsync, replace, rename

from matcher.cli import main

status = main(sys.argv[1:])
with real_open(os.environ["KILL_STEPS"], "w") as handle:
    handle.write(" ".join(steps))
sys.exit(status)
'''


def _run(driver: Path, folder: Path, args: list[str], at: int = -1, mode: str = "before") -> tuple[int, list, int]:
    """(exit status, the kinds of step counted, process id) of one run,
    killed at step ``at``."""
    count = folder.parent / "steps.txt"
    count.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KILL_IN=str(folder), KILL_AT=str(at), KILL_MODE=mode,
               KILL_STEPS=str(count), PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen([sys.executable, str(driver), *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err, err
    return process.returncode, count.read_text().split() if count.exists() else [], process.pid


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _restore(folder: Path, old: dict[str, bytes]) -> None:
    """The old files back in place; whatever else is there (a killed run's
    temporaries) stays for the next run to clear."""
    for name, data in old.items():
        (folder / name).write_bytes(data)


def _consistent_with_validate(folder: Path, links: str, old: dict, state: dict) -> None:
    """validate-proposal passes exactly when the links, summary and
    manifest on disk are of one run."""
    from matcher.cli import main

    _restore(folder, state)
    generations = {"old" if state[n] == old[n] else "new" for n in state}
    status = main(["validate-proposal", "--links", str(folder / links)])
    assert (status == 0) == (len(generations) == 1), (generations, status)


COMMANDS = {
    # (the command with the options of the old files, the options of the new ones)
    "propose": (["propose", "--out", "{out}/links.csv", "--min-score", "70"], []),
    "scores": (["scores", "--out", "{out}/scores.parquet"], ["--weights", "{weights}"]),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_kill_at_any_step_leaves_each_file_whole_old_or_whole_new(tmp_path, region_files, command):
    children, households = region_files
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    weights = tmp_path / "w.toml"
    weights.write_text("[factors]\nneeds = 30\nheritage = 20\n")
    out = tmp_path / "out"
    out.mkdir()
    base, change = COMMANDS[command]
    files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
    args = [a.format(out=out) for a in base] + files
    new_args = args + [a.format(weights=weights) for a in change]
    if command == "propose":
        new_args.remove("--min-score")
        new_args.remove("70")

    assert _run(driver, out, args)[0] == 0
    old = _state(out)
    status, steps, _ = _run(driver, out, new_args)
    assert status == 0 and steps, steps
    new = _state(out)
    assert set(old) == set(new) and all(old[n] != new[n] for n in old), "the new run must change every file"
    links = "links.csv" if command == "propose" else None

    seen_mixed, states, leftovers = False, [], []
    # Every distinct moment: in the middle of each write (a half-written
    # file), just before each rename, and after the last rename. (Just
    # before a write or an fsync looks the same on disk as in the middle
    # of the write before it, only with fewer bytes.)
    kills = [(at, "during" if kind == "write" else "before") for at, kind in enumerate(steps)
             if kind in ("write", "rename") or at == len(steps) - 1]
    for at, mode in kills:
        _restore(out, old)
        status, _, pid = _run(driver, out, new_args, at, mode)
        assert status == -signal.SIGKILL
        state = _state(out)
        for name in old:
            assert state[name] in (old[name], new[name]), f"{name} is partial after a kill at step {at} ({mode})"
        seen_mixed |= len({state[n] == new[n] for n in old}) > 1
        states.append(state)
        leftovers.append((_temporaries(out), pid))
    assert seen_mixed, "some kill should fall between two renames"
    # Only the killed run's own temporaries are left after it (a temporary's
    # name carries its process id): each run clears those of runs killed before.
    for names, pid in leftovers:
        assert all(f"-{pid}-" in name for name in names), (names, pid)
    if links:
        for state in states:
            _consistent_with_validate(out, links, old, state)
    _restore(out, old)
    assert _run(driver, out, new_args)[0] == 0
    assert _temporaries(out) == [] and _state(out) == new


def test_real_kills_during_a_run_never_leave_a_partial_file(tmp_path, region_files):
    from tests.conftest import write_region

    (tmp_path / "big").mkdir()
    children, households = write_region(tmp_path / "big", seed=4, n_children=200, n_households=300)
    out = tmp_path / "out"
    out.mkdir()
    files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
    cli = [sys.executable, "-c", "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    old_args = [*cli, "scores", "--out", str(out / "s.csv"), *files]
    new_args = old_args + ["--weights", str(tmp_path / "w.toml")]
    (tmp_path / "w.toml").write_text("[factors]\nneeds = 30\n")
    subprocess.run(old_args, env=env, check=True, capture_output=True)
    old = _state(out)
    started = time.perf_counter()
    subprocess.run(new_args, env=env, check=True, capture_output=True)
    whole = time.perf_counter() - started
    new = _state(out)
    for share in (0.75, 0.9, 0.95, 0.99):
        _restore(out, old)
        process = subprocess.Popen(new_args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * share)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = _state(out)
        for name in old:
            assert state[name] in (old[name], new[name]), f"{name} is partial after a kill at {share:.0%} of a run"
    subprocess.run(new_args, env=env, check=True, capture_output=True)
    assert _temporaries(out) == [] and _state(out) == new


def test_a_full_disk_at_any_write_changes_no_file_and_leaves_no_temporary(tmp_path, region_files, run_cli,
                                                                          monkeypatch):
    """The disk fills up at the k-th write into the output folder (the
    links, the summary or the manifest): exit 1 with one line, every old
    file as it was, no temporary left behind."""
    import builtins
    import errno
    import io

    import polars as pl

    children, households = region_files
    out = tmp_path / "out"
    out.mkdir()
    files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
    assert run_cli("propose", "--out", out / "links.csv", "--min-score", "70", *files)[0] == 0
    old = _state(out)
    folder = os.path.realpath(out)
    writes = {"count": 0, "fail_at": -1}

    def full(path) -> None:
        if not os.path.realpath(os.fspath(path)).startswith(folder + os.sep):
            return
        writes["count"] += 1
        if writes["count"] - 1 == writes["fail_at"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))

    real_csv, real_open = pl.DataFrame.write_csv, builtins.open

    def write_csv(self, file=None, *args, **kwargs):
        if file is not None:
            full(file)
        return real_csv(self, file, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(m in mode for m in "wax+"):
            full(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_csv", write_csv)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    assert run_cli("propose", "--out", out / "links.csv", *files)[0] == 0
    n = writes["count"]
    assert n >= 2 and _state(out) != old
    runs = []
    for k in range(n):
        _restore(out, old)
        writes.update(count=0, fail_at=k)
        status, _, err = run_cli("propose", "--out", out / "links.csv", *files)
        runs.append((k, status, err, _state(out) == old, _temporaries(out)))
    assert [k for k, _, _, unchanged, _ in runs if not unchanged] == [], "a full disk changed a file"
    for k, status, err, _, leftovers in runs:
        assert status == 1 and "No space left on device" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and "OSError" not in err, err
        assert leftovers == []
