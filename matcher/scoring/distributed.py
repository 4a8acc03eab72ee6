"""Scoring of unit blocks on Dask distributed (``--scheduler``).

One process scores every eligible pair block by block (see
:func:`~matcher.scoring.queries.all_scores`). With a scheduler, the same
blocks run as Dask tasks on other processes or machines and come back to be
put together in the canonical order, so that every output is byte-identical
to the one process's:

- A block is a run of waiting units, named by their unit ids (the region
  lists units by unit id, so the blocks follow the ids). A task receives the
  ids and looks the rows up in its own copy of the region.
- The region is sent to every worker once (``client.scatter(...,
  broadcast=True)``), pickled: each copy has the same tables in the same
  row order, so a household row means the same household on a worker as
  here. Each task's result carries the fingerprint of its copy (a SHA-256 of
  the as-of date and of every unit id and household id in row order) and is
  refused unless it equals this process's, so a result can never be read
  against different rows.
- Each block is scored by exactly the code the one process runs on it, pair
  by pair with no sums across pairs: the numbers are the same bits.
- The results are placed by block number, whatever order they finish in.

The ``region`` column is not used to cut blocks: every unit is checked
against every household whatever its region (distance is a score, not a
rule), so each worker needs every household anyway and grouping units by
region would save no transfer; the blocks stay in unit-id order, which
keeps the result in canonical order without a sort.

``dask[distributed]`` is an optional extra (``pip install 'matcher[dist]'``)
and is imported only when a scheduler is given. ``--workers`` stays the
CP-SAT search workers.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from matcher.errors import InputError, option_problem

LOCAL = re.compile(r"local:(\d+)")
REMOTE = re.compile(r"(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})")
MAX_LOCAL_WORKERS = 64
DEFAULT_TIMEOUT_S = 10.0
BLOCKS_PER_WORKER = 4  # at least this many blocks per worker, so that a slow one is not waited on alone

SCHEDULER_EXPECTED = ("tcp://HOST:PORT or tls://HOST:PORT (a running Dask scheduler), or local:N for a cluster "
                      f"of N worker processes on this machine (N from 1 to {MAX_LOCAL_WORKERS})")


@dataclass(frozen=True)
class Scheduler:
    """Where to score: a Dask scheduler's address (``tcp://`` or
    ``tls://``), or ``local:N`` (a local cluster of N worker processes of one
    thread each); for ``tls://`` the CA, certificate and key files the
    client presents; how long to wait for the scheduler (and its first
    worker)."""

    address: str
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def local_workers(self) -> int | None:
        found = LOCAL.fullmatch(self.address)
        return int(found.group(1)) if found else None

    @property
    def tls(self) -> bool:
        return self.address.startswith("tls://")


def parse_scheduler(address, tls_ca_file=None, tls_cert=None, tls_key=None,
                    timeout_s=DEFAULT_TIMEOUT_S) -> Scheduler | None:
    """``--scheduler`` and its TLS files as a :class:`Scheduler` (None when
    no address is given); an :class:`InputError` naming the option for a
    malformed address, a missing file, or TLS files without ``tls://``."""
    files = {"tls_ca_file": tls_ca_file, "tls_cert": tls_cert, "tls_key": tls_key}
    given = {k: v for k, v in files.items() if v is not None}
    if address is None:
        if given:
            option, path = next(iter(given.items()))
            raise InputError(option_problem(option, str(path), "TLS files only with a tls:// {option:scheduler}"))
        return None
    if isinstance(address, Scheduler):
        return address
    text = str(address).strip()
    local = LOCAL.fullmatch(text)
    remote = REMOTE.fullmatch(text)
    if local and not 1 <= int(local.group(1)) <= MAX_LOCAL_WORKERS:
        local = None
    if remote and not 1 <= int(remote.group(3)) <= 65535:
        remote = None
    if not local and not remote:
        raise InputError(option_problem("scheduler", text, SCHEDULER_EXPECTED))
    try:
        timeout = float(timeout_s)
    except (TypeError, ValueError):
        timeout = math.nan
    if not 0 < timeout <= 3600:
        raise InputError(option_problem("scheduler_timeout_s", str(timeout_s), "seconds, above 0 and at most 3600"))
    if text.startswith("tls://"):
        missing = [k for k in files if k not in given]
        if missing:
            raise InputError([option_problem(k, None, "a PEM file: a tls:// {option:scheduler} needs the CA, "
                                                      "certificate and key files") for k in missing])
    elif given:
        option, path = next(iter(given.items()))
        raise InputError(option_problem(option, str(path), "TLS files only with a tls:// {option:scheduler}"))
    for option, path in given.items():
        if not os.path.isfile(path):
            raise InputError(option_problem(option, str(path), "an existing PEM file"))
    return Scheduler(text, tls_ca_file=given.get("tls_ca_file"), tls_cert=given.get("tls_cert"),
                     tls_key=given.get("tls_key"), timeout_s=timeout)


def region_fingerprint(region) -> str:
    """SHA-256 of the as-of date and of every unit id and household id in
    row order: equal fingerprints, equal meaning of every row number."""
    def make() -> str:
        digest = hashlib.sha256(region.as_of.isoformat().encode())
        for ids in (region.unit_arrays.unit_ids, region.household_arrays.household_ids):
            digest.update(b"\x1e")
            digest.update("\x1f".join(map(str, ids)).encode("utf-8"))
        return digest.hexdigest()

    return region.cache.get_or_make(("region fingerprint",), make)


@dataclass
class BlockScores:
    """One block's scored pairs as a worker sends them back: the block's
    unit ids with the number of pairs of each (pairs come unit by unit),
    household rows of the worker's copy of the region, and the scorer's
    columns. :func:`assemble` empties the columns as it copies them."""

    index: int
    fingerprint: str
    unit_ids: tuple[str, ...]
    pairs_per_unit: np.ndarray
    households: np.ndarray
    points: np.ndarray
    score: np.ndarray
    weight: np.ndarray
    fee: np.ndarray
    distance_km: np.ndarray


def score_block(region, weights, index: int, unit_ids: tuple[str, ...]) -> BlockScores:
    """Run on a worker: every eligible pair of the units named, scored by
    :func:`~matcher.scoring.queries.local_scores` on this process's copy of
    the region."""
    from matcher.scoring.queries import local_scores

    rows = np.array([region.unit_row_of_id[u] for u in unit_ids], dtype=np.int64)
    pairs = local_scores(region, weights, rows, workers=1)
    # Pairs come unit by unit in the order of ``rows``: a count per unit is enough.
    position = np.zeros(len(region.unit_arrays), dtype=np.int64)
    position[rows] = np.arange(len(rows))
    counts = np.bincount(position[pairs.units], minlength=len(rows))
    return BlockScores(index, region_fingerprint(region), tuple(unit_ids), counts.astype(np.int64),
                       _narrow(pairs.households), np.ascontiguousarray(pairs.points), pairs.score,
                       _narrow(pairs.weight), _narrow(pairs.fee), pairs.distance_km)


def _narrow(values: np.ndarray) -> np.ndarray:
    """Whole numbers as int32 when every one fits (fewer bytes to send back;
    widened again exactly by :func:`assemble`)."""
    if len(values) and (int(values.min()) < -2**31 or int(values.max()) >= 2**31):
        return values
    return values.astype(np.int32)


def assemble(region, parts: list[BlockScores]):
    """The blocks' pairs as one :class:`PairScores`, block after block (in
    block order), each unit's row found by its id in this region."""
    from matcher.scoring.scorer import PairScores
    from matcher.scoring.weights import FACTORS

    mine = region_fingerprint(region)
    for part in parts:
        if part.fingerprint != mine:
            raise RuntimeError(f"block {part.index} was scored on a different region (fingerprint "
                               f"{part.fingerprint[:12]}, here {mine[:12]}): its rows would not name the same "
                               "units and households")
    sizes = [len(p.score) for p in parts]
    n = sum(sizes)

    # Column by column, each block's copy dropped once taken: the peak is
    # the table plus the blocks' points, not twice the table.
    def joined(name, dtype, shape=(), order="C"):
        out = np.empty((n, *shape), dtype=dtype, order=order)
        at = 0
        for p, size in zip(parts, sizes):
            out[at:at + size] = getattr(p, name)
            setattr(p, name, None)
            at += size
        return out

    points = joined("points", np.int32, (len(FACTORS),), "F")
    units = np.empty(n, dtype=np.int64)
    at = 0
    for p, size in zip(parts, sizes):
        rows = np.array([region.unit_row_of_id[u] for u in p.unit_ids], dtype=np.int64)
        units[at:at + size] = np.repeat(rows, p.pairs_per_unit)
        at += size
    households, weight, fee, distance_km = (joined(name, dtype) for name, dtype in (
        ("households", np.int64), ("weight", np.int64), ("fee", np.int64), ("distance_km", np.float64)))
    return PairScores(units, households, points, joined("score", np.float64), weight, fee, distance_km)


def unit_id_blocks(region, rows: np.ndarray, n_workers: int, block_units: int | None = None) -> list[tuple[str, ...]]:
    """The units of ``rows`` (in that order) cut into blocks of unit ids:
    about the one process's block size (see ``BLOCK_PAIRS``), smaller when
    that would give fewer than :data:`BLOCKS_PER_WORKER` blocks a worker."""
    from matcher.scoring.queries import BLOCK_PAIRS

    if block_units is None:
        block_units = max(1, BLOCK_PAIRS // max(1, len(region.household_arrays)))
        block_units = max(1, min(block_units, math.ceil(len(rows) / (BLOCKS_PER_WORKER * max(1, n_workers)))))
    ids = region.unit_arrays.unit_ids[rows].astype(str).tolist()
    return [tuple(ids[i:i + block_units]) for i in range(0, len(ids), block_units)]


class DaskRunner:
    """A connection to a Dask cluster (made for ``local:N``) that scores
    unit blocks; :func:`session` opens and closes one."""

    def __init__(self, scheduler: Scheduler, client, cluster=None, on_block=None):
        self.scheduler = scheduler
        self.client = client
        self.cluster = cluster
        self.on_block = on_block
        self.block_units: int | None = None
        self.blocks_done = 0

    @classmethod
    def connect(cls, scheduler: Scheduler, on_block=None) -> DaskRunner:
        try:
            import logging

            from distributed import Client, LocalCluster
            from distributed.security import Security
        except ImportError:
            raise InputError(option_problem("scheduler", scheduler.address,
                                            "a scheduler only with Dask distributed installed (pip install "
                                            "'matcher[dist]')")) from None
        n = scheduler.local_workers
        if n is not None:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": ":0"},
                                   silence_logs=logging.ERROR)
            try:
                client = Client(cluster)
            except BaseException:
                cluster.close()
                raise
            return cls(scheduler, client, cluster, on_block)
        security = None
        if scheduler.tls:
            security = Security(tls_ca_file=scheduler.tls_ca_file, tls_client_cert=scheduler.tls_cert,
                                tls_client_key=scheduler.tls_key, require_encryption=True)
        timeout = scheduler.timeout_s
        try:
            client = Client(scheduler.address, timeout=f"{timeout}s", security=security)
        except (OSError, TimeoutError) as error:
            raise InputError(option_problem(
                "scheduler", scheduler.address,
                f"a reachable Dask scheduler; none answered at {scheduler.address} within {timeout:g} s "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no answer'})")) from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            client.close()
            raise InputError(option_problem(
                "scheduler", scheduler.address,
                f"a Dask scheduler with workers; no worker joined {scheduler.address} within {timeout:g} s "
                "(start some with `dask worker ADDRESS`)")) from None
        return cls(scheduler, client, None, on_block)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def map_unit_blocks(self, region, func, blocks: list[tuple[str, ...]], *args, progress=None) -> list:
        """``[func(region, index, block, *args) for each block]``, run on the
        cluster with the region sent to every worker once; results in block
        order. ``progress`` is called with each finished block's unit count,
        ``on_block`` with (blocks done, blocks in all)."""
        from distributed import as_completed

        if not blocks:
            return []
        shared = self.client.scatter(region, broadcast=True, hash=False)
        try:
            futures = [self.client.submit(func, shared, i, block, *args, pure=False, key=f"matcher-block-{i}-"
                                          f"{os.urandom(4).hex()}") for i, block in enumerate(blocks)]
            index_of = {future.key: i for i, future in enumerate(futures)}
            out: list = [None] * len(blocks)
            done = 0
            # with_results: results are fetched as tasks finish, not one round trip each after.
            for future, result in as_completed(futures, with_results=True):
                index = index_of[future.key]
                out[index] = result
                done += 1
                self.blocks_done += 1
                if progress is not None:
                    progress(len(blocks[index]))
                if self.on_block is not None:
                    self.on_block(done, len(blocks))
                future.release()
            return out
        finally:
            self.client.cancel([shared])

    def all_scores(self, region, weights, unit_rows=None, progress=None):
        """Every eligible pair's scores, as
        :func:`~matcher.scoring.queries.all_scores` gives them in one process."""
        rows = region.waiting_unit_rows if unit_rows is None else np.asarray(unit_rows, dtype=np.int64)
        blocks = unit_id_blocks(region, rows, self.n_workers, self.block_units)
        parts = self.map_unit_blocks(region, _score_task, blocks, weights, progress=progress)
        return assemble(region, parts)


def _score_task(region, index, unit_ids, weights) -> BlockScores:
    return score_block(region, weights, index, unit_ids)


def map_unit_blocks(region, func, blocks: list[tuple[str, ...]], *args, workers: int = 2, progress=None) -> list:
    """``[func(region, index, block, *args) for each block]`` in block
    order: on the Dask cluster of the active :func:`session` if there is
    one (``func`` must then be a module-level function, sent by name), else
    on this process's thread pool. The hook for any path that works unit
    block by unit block (scoring, candidate generation); make the blocks
    with :func:`unit_id_blocks`."""
    runner = active()
    if runner is not None:
        return runner.map_unit_blocks(region, func, blocks, *args, progress=progress)
    from matcher.pool import run_all

    def one(item):
        index, block = item
        out = func(region, index, block, *args)
        if progress is not None:
            progress(len(block))
        return out

    return run_all(one, list(enumerate(blocks)), workers)


_ACTIVE: contextvars.ContextVar[DaskRunner | None] = contextvars.ContextVar("matcher_dask_runner", default=None)


def active() -> DaskRunner | None:
    """The runner of the :func:`session` this code runs in, if any: the hook
    any path that scores all pairs block by block asks."""
    return _ACTIVE.get()


@contextlib.contextmanager
def session(scheduler: Scheduler | str | None, on_block=None):
    """Score on the scheduler inside the ``with`` (nothing changes when it
    is None). Connects (or starts the local cluster) on entry and closes on
    exit; ``on_block(done, total)`` reports finished blocks."""
    scheduler = parse_scheduler(scheduler) if isinstance(scheduler, str) else scheduler
    if scheduler is None:
        yield None
        return
    runner = DaskRunner.connect(scheduler, on_block)
    token = _ACTIVE.set(runner)
    try:
        yield runner
    finally:
        _ACTIVE.reset(token)
        runner.close()
