"""The warm stage server: a stage forked from it gives what the job's own process gives, and fails alike."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SMALL_SKIPS
from n2n import stage

PRUNE_ARGS = dict(model="vgg19", dataset="digits", method="n2nskip-rp", density=0.1, seed=0, width=0.125,
                  skips=SMALL_SKIPS, data_root="data", pruning={"csp": {"batch_size": 16}}, device="cpu", threads=1)

CLIENT = """
import json, sys
from n2n.stage import run_stage
target, log, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    run_stage(target, log, **kwargs)
finally:
    print(json.dumps({"client_imported_torch": "torch" in sys.modules}))
"""


def run_client(target: str, log: Path, kwargs: dict, server: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != stage.SERVER_ENV}
    if server:
        env[stage.SERVER_ENV] = server
    return subprocess.run([sys.executable, "-c", CLIENT, target, str(log), json.dumps(kwargs)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def server():
    process = stage.start_server()
    address = os.environ[stage.SERVER_ENV]
    yield process, address
    stage.stop_server(process)
    assert process.poll() is not None and not Path(address).exists()


def npz_contents(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k].tolist() for k in data.files}


def test_stage_on_the_server_writes_what_the_job_process_writes(server, tmp_path):
    _, address = server
    warm = run_client("n2n.pruners:run_prune", tmp_path / "warm.log", {**PRUNE_ARGS, "out_path": str(tmp_path / "warm.npz")},
                      address)
    cold = run_client("n2n.pruners:run_prune", tmp_path / "cold.log", {**PRUNE_ARGS, "out_path": str(tmp_path / "cold.npz")},
                      None)
    assert warm.returncode == 0 and cold.returncode == 0, warm.stderr + cold.stderr
    # the warm job never imported torch itself: the server's child did the work
    assert json.loads(warm.stdout.splitlines()[-1]) == {"client_imported_torch": False}
    assert json.loads(cold.stdout.splitlines()[-1]) == {"client_imported_torch": True}
    assert npz_contents(tmp_path / "warm.npz") == npz_contents(tmp_path / "cold.npz")
    assert (tmp_path / "warm.log").exists()


def test_a_failing_stage_fails_the_job_with_its_message(server, tmp_path):
    _, address = server
    args = {"prune_mask_path": str(tmp_path / "missing.npz"), "out_path": str(tmp_path / "out.npz")}
    proc = run_client("n2n.skips:run_add_skips", tmp_path / "job.log", args, address)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "missing.npz" in proc.stderr  # the job's own stderr
    assert "Traceback" in (tmp_path / "job.log").read_text()
    assert not (tmp_path / "out.npz").exists()


def test_no_reachable_server_runs_the_stage_here(tmp_path):
    args = {**PRUNE_ARGS, "out_path": str(tmp_path / "here.npz")}
    proc = run_client("n2n.pruners:run_prune", tmp_path / "here.log", args, str(tmp_path / "no-such.sock"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"client_imported_torch": True}
    assert (tmp_path / "here.npz").exists()


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_killed_job_takes_its_forked_stage_with_it(server, tmp_path):
    process, address = server
    env = {**os.environ, stage.SERVER_ENV: address}
    # a "stage" that waits two minutes in the forked child, unless it is killed
    client = subprocess.Popen([sys.executable, "-c", CLIENT, "multiprocessing.connection:wait", str(tmp_path / "sleep.log"),
                               json.dumps({"object_list": [], "timeout": 120})], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while not children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    (child,) = children(process.pid)
    client.send_signal(signal.SIGKILL)
    client.wait()
    deadline = time.monotonic() + 30
    while child in children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert child not in children(process.pid)


def test_the_server_exits_with_the_process_that_started_it(tmp_path):
    starter = ("import os, sys; from n2n import stage; p = stage.start_server(); "
               "print(p.pid, os.environ[stage.SERVER_ENV], flush=True)")
    out = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, timeout=120, cwd=ROOT)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else "gone"
    assert status == "gone" or "zombie" in status
    address = Path(out.stdout.split()[1])
    deadline = time.monotonic() + 10
    while address.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not address.parent.exists()  # its socket folder went with it
