"""Scoring on Dask distributed (``--scheduler``): the same scores file and
the same proposal as one process, on a local cluster of worker processes and
on a scheduler and workers started as separate processes with TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import AS_OF, write_region

distributed = pytest.importorskip("distributed")

from matcher import api  # noqa: E402
from matcher.scoring import distributed as dist  # noqa: E402
from matcher.scoring.queries import local_scores  # noqa: E402
from matcher.scoring.weights import Weights  # noqa: E402

BIN = Path(sys.executable).parent
N_CHILDREN, N_HOUSEHOLDS = 150, 220


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every file of a run but the manifests (they name their own path)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".manifest.json")}


def _run_both(run_cli, tmp_path: Path, command: str, out: str, *extra: str) -> tuple[Path, Path, str]:
    """``command`` in one process and with ``extra`` (the scheduler), each
    into its own folder; returns both folders and the second's stderr."""
    children, households = write_region(tmp_path, seed=11, n_children=N_CHILDREN, n_households=N_HOUSEHOLDS)
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir()
    many.mkdir()
    base = [command, "--children", children, "--households", households, "--as-of", AS_OF.isoformat()]
    status, _, err = run_cli(*base, "--out", one / out)
    assert status == 0, err
    status, _, err = run_cli(*base, "--out", many / out, *extra)
    assert status == 0, err
    return one, many, err


def _assert_same_outputs(one: Path, many: Path) -> None:
    a, b = _outputs(one), _outputs(many)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], f"{name} differs"
    for manifest in one.glob("*.manifest.json"):
        mine = json.loads(manifest.read_text())
        theirs = json.loads((many / manifest.name).read_text())
        for record in (mine, theirs):
            for output in record.get("outputs", []):
                output.pop("path", None)
        assert mine == theirs


# --- blocks put together (no cluster) -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def region():
    from matcher.generate import generate_region

    kids, homes = generate_region(7, 80, 120, AS_OF)
    return api.region_from_frames(kids, homes, AS_OF)


@pytest.mark.parametrize("block_units", [1, 3, 17, 1000])
def test_blocks_scored_apart_and_put_together_are_the_one_process_pairs(region, block_units):
    weights = Weights()
    whole = local_scores(region, weights, workers=1)
    blocks = dist.unit_id_blocks(region, region.waiting_unit_rows, 2, block_units)
    assert sum(len(b) for b in blocks) == len(region.waiting_unit_rows)
    # Scored out of order, each on its own copy of the region (as a worker has).
    import pickle

    copy = pickle.loads(pickle.dumps(region))
    parts = [dist.score_block(copy, weights, i, b) for i, b in reversed(list(enumerate(blocks)))][::-1]
    together = dist.assemble(region, parts)
    for name in ("units", "households", "points", "score", "weight", "fee", "distance_km"):
        mine, theirs = getattr(whole, name), getattr(together, name)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name


def test_a_region_with_pairs_excluded_by_hand_is_scored_the_same_on_a_copy(region):
    import pickle

    from matcher.generate import generate_region
    from matcher.region import Exclusion
    from matcher.validation import tables_from_frames

    weights = Weights()
    pairs = local_scores(region, weights, workers=1)
    u, h = int(pairs.units[0]), int(pairs.households[0])
    child = region.children_of(u)["child_id"][0]
    household = str(region.household_arrays.household_ids[h])
    at = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    kids, homes = generate_region(7, 80, 120, AS_OF)  # the region fixture's frames
    excluded = api.region_from_tables(tables_from_frames(kids, homes, as_of=AS_OF), AS_OF,
                                      [Exclusion(child, household, "met, not a match", "tester", at)])
    whole = local_scores(excluded, weights, workers=1)
    assert len(whole.score) == len(pairs.score) - 1
    copy = pickle.loads(pickle.dumps(excluded))
    blocks = dist.unit_id_blocks(excluded, excluded.waiting_unit_rows, 2, 7)
    together = dist.assemble(excluded, [dist.score_block(copy, weights, i, b) for i, b in enumerate(blocks)])
    for name in ("units", "households", "points", "score", "weight", "fee", "distance_km"):
        assert np.array_equal(getattr(whole, name), getattr(together, name)), name


def test_a_block_scored_on_another_region_is_refused(region):
    from matcher.generate import generate_region

    kids, homes = generate_region(8, 80, 121, AS_OF)
    other = api.region_from_frames(kids, homes, AS_OF)
    ids = tuple(other.unit_arrays.unit_ids[other.waiting_unit_rows[:2]].astype(str))
    part = dist.score_block(other, Weights(), 0, ids)
    with pytest.raises(RuntimeError, match="different region"):
        dist.assemble(region, [part])


def test_the_fingerprint_follows_the_row_order(region):
    import dataclasses

    flipped = dataclasses.replace(region, cache=type(region.cache)())
    object.__setattr__(flipped, "household_arrays",
                       region.household_arrays.take(np.arange(len(region.household_arrays))[::-1]))
    assert dist.region_fingerprint(flipped) != dist.region_fingerprint(region)


# --- bad scheduler options ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["foo", "local:0", "local:65", "tcp://127.0.0.1", "tcp://h:70000", "http://h:1"])
def test_a_malformed_scheduler_address_exits_2(run_cli, region_files, tmp_path, address):
    children, households = region_files
    status, _, err = run_cli("scores", "--children", children, "--households", households, "--out",
                             tmp_path / "s.csv", "--scheduler", address)
    assert status == 2
    assert f"--scheduler: got '{address}'" in err and "local:N" in err
    assert not (tmp_path / "s.csv").exists()


def test_an_unreachable_scheduler_exits_2_naming_the_address_and_the_timeout(run_cli, region_files, tmp_path):
    children, households = region_files
    address = f"tcp://127.0.0.1:{_free_port()}"
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--out",
                             tmp_path / "p.csv", "--scheduler", address, "--scheduler-timeout", "1")
    assert status == 2
    assert f"none answered at {address} within 1 s" in err
    assert not (tmp_path / "p.csv").exists()


def test_tls_files_are_checked(run_cli, region_files, tmp_path):
    children, households = region_files
    base = ["scores", "--children", children, "--households", households, "--out", tmp_path / "s.csv"]
    status, _, err = run_cli(*base, "--scheduler", "tls://127.0.0.1:8786")
    assert status == 2 and "--tls-ca-file" in err and "--tls-cert" in err and "--tls-key" in err
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    status, _, err = run_cli(*base, "--scheduler", "tcp://127.0.0.1:8786", "--tls-ca-file", pem)
    assert status == 2 and "only with a tls:// --scheduler" in err
    status, _, err = run_cli(*base, "--scheduler", "tls://127.0.0.1:8786", "--tls-ca-file", pem,
                             "--tls-cert", tmp_path / "no.pem", "--tls-key", pem)
    assert status == 2 and "--tls-cert: got" in err and "an existing PEM file" in err


def test_scheduler_in_the_api_options_is_checked():
    with pytest.raises(api.InputError, match="scheduler"):
        api.QueryOptions(scheduler="nowhere")
    assert api.ProposalOptions.parse(scheduler="local:2").scheduler == dist.Scheduler("local:2")
    # Not recorded in the manifest: it is how the pairs were scored, not what was asked.
    assert "scheduler" not in api.options_record(api.ProposalOptions.parse(scheduler="local:2"))


# --- a local cluster of 2 worker processes --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster
    import logging

    made = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": ":0"},
                        silence_logs=logging.ERROR)
    try:
        yield made
    finally:
        made.close()


def test_scores_on_two_worker_processes_are_the_same_file(run_cli, tmp_path, cluster):
    one, many, err = _run_both(run_cli, tmp_path, "scores", "scores.parquet", "--scheduler",
                               cluster.scheduler_address)
    _assert_same_outputs(one, many)
    assert "unit blocks scored" in err
    # The blocks ran on both workers' processes.
    assert len(cluster.scheduler_info["workers"]) == 2


def test_propose_on_a_local_cluster_of_two_processes_is_the_same_proposal(run_cli, tmp_path):
    one, many, err = _run_both(run_cli, tmp_path, "propose", "links.csv", "--scheduler", "local:2")
    _assert_same_outputs(one, many)
    done = [line for line in err.splitlines() if line.startswith("dask: ")]
    assert done and done[-1].startswith("dask: ") and "local:2" in done[-1]
    last, total = done[-1].split()[1].split("/")
    assert last == total and int(total) >= 2 * dist.BLOCKS_PER_WORKER


def test_api_propose_in_a_session_scores_on_the_workers(tmp_path, cluster):
    children, households = write_region(tmp_path, seed=12, n_children=N_CHILDREN, n_households=N_HOUSEHOLDS)
    region = api.region_from_files(children, households, AS_OF)
    alone = api.propose(region, api.ProposalOptions())
    seen = []
    options = api.ProposalOptions(scheduler=cluster.scheduler_address)
    spread = api.propose(region, options, blocks=lambda done, total: seen.append((done, total)))
    assert spread.links.equals(alone.links) and spread.objective == alone.objective
    assert seen and seen[-1][0] == seen[-1][1] == len(seen)


# --- a scheduler and two workers as separate processes, with TLS ---------------------------------------------------

def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and one certificate (for 127.0.0.1 and localhost, server and
    client use) signed by it that the scheduler, the workers and the client
    present."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("matcher test CA")).issuer_name(name("matcher test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("matcher cluster")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on loopback with
    TLS; yields (address, ca, cert, key). Every process is ended after."""
    folder = tmp_path / "cluster"
    folder.mkdir()
    ca, cert, key = _certificates(folder)
    tls = ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs: list[subprocess.Popen] = []
    logs = [open(folder / f"log{i}.txt", "w") for i in range(3)]
    try:
        procs.append(subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                       "--protocol", "tls", "--no-dashboard", "--scheduler-file",
                                       str(scheduler_file), *tls], stdout=logs[0], stderr=logs[0], env=env))
        for i in (1, 2):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                           "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host",
                                           "127.0.0.1", "--local-directory", str(folder / f"w{i}"), *tls],
                                          stdout=logs[i], stderr=logs[i], env=env))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (folder / "log0.txt").read_text()
            time.sleep(0.2)
        time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        from distributed import Client
        from distributed.security import Security

        security = Security(tls_ca_file=str(ca), tls_client_cert=str(cert), tls_client_key=str(key),
                            require_encryption=True)
        with Client(address, security=security, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, ca, cert, key
    finally:
        # Workers first (a worker ended after its scheduler waits to reconnect), then the scheduler.
        for group in (procs[1:], procs[:1]):
            for proc in group:
                proc.terminate()
            for proc in group:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        for log in logs:
            log.close()


def test_propose_on_a_tls_scheduler_and_two_worker_processes_is_the_same_proposal(run_cli, tmp_path, tls_cluster):
    address, ca, cert, key = tls_cluster
    one, many, err = _run_both(run_cli, tmp_path, "propose", "links.csv", "--scheduler", address,
                               "--tls-ca-file", ca, "--tls-cert", cert, "--tls-key", key)
    _assert_same_outputs(one, many)
    assert f"unit blocks scored on {address}" in err
    # Without the client's certificate the scheduler is not reached: exit 2.
    status, _, err = run_cli("propose", "--children", tmp_path / "children.csv", "--households",
                             tmp_path / "households.csv", "--as-of", AS_OF.isoformat(), "--out",
                             tmp_path / "plain.csv", "--scheduler", address.replace("tls://", "tcp://"),
                             "--scheduler-timeout", "2")
    assert status == 2 and "none answered" in err


def _unit_count_task(region, index, unit_ids, offset):
    """A block function as candidate generation would send: runs where the
    region is, returns something small."""
    return index + offset, len(unit_ids), os.getpid()


def test_map_unit_blocks_runs_any_block_function_on_the_cluster_or_here(region, cluster):
    blocks = dist.unit_id_blocks(region, region.waiting_unit_rows, 2, 5)
    here = dist.map_unit_blocks(region, _unit_count_task, blocks, 100, workers=1)
    assert [r[:2] for r in here] == [(i + 100, len(b)) for i, b in enumerate(blocks)]
    assert {r[2] for r in here} == {os.getpid()}
    done = []
    with dist.session(cluster.scheduler_address, on_block=lambda d, t: done.append(d)):
        there = dist.map_unit_blocks(region, _unit_count_task, blocks, 100)
    assert [r[:2] for r in there] == [r[:2] for r in here]
    assert os.getpid() not in {r[2] for r in there}
    assert sorted(done) == list(range(1, len(blocks) + 1))


def test_dask_is_not_imported_without_a_scheduler(region_files, tmp_path):
    children, households = region_files
    code = ("import sys\nfrom matcher.cli import main\n"
            f"status = main(['scores', '--children', {str(children)!r}, '--households', {str(households)!r}, "
            f"'--as-of', {AS_OF.isoformat()!r}, '--out', {str(tmp_path / 's.csv')!r}])\n"
            "assert status == 0, status\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
