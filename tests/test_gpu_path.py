"""The branches the training takes on CUDA, run on the CPU with stand-ins that make the same calls the
same way: a process group whose only backend for CUDA tensors is not a CPU one (as NCCL's), a faked GPU
count shared by concurrent jobs, the aten ops of a training step checked against those that have no
deterministic CUDA kernel, and the selftest a user runs first on a GPU node."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import ROOT, SMALL_SKIPS
from n2n.distributed import Ranks


def as_nccl_dispatches(backend: str) -> str:
    """The backend string with NCCL replaced by gloo serving CUDA tensors only: NCCL's dispatch, on the CPU."""
    return "cuda:gloo" if backend == "nccl" else backend.replace("cuda:nccl", "cuda:gloo")


CONNECT_FAILED = "could not connect"


def _sums_in_group(rank: int, backend: str | None, out: str) -> None:
    import torch.distributed as dist

    from n2n import distributed

    rendezvous = str(Path(out, "rendezvous"))
    try:
        if backend is None:  # the group n2n builds for CUDA, NCCL standing in as gloo for CUDA tensors only
            distributed.BACKENDS["cuda"] = as_nccl_dispatches(distributed.BACKENDS["cuda"])
            ranks = distributed.join(rank, 2, rendezvous, "cuda")
        else:
            dist.init_process_group(backend, init_method=f"file://{rendezvous}", rank=rank, world_size=2)
            ranks = Ranks(rank, 2)
    except RuntimeError as err:  # gloo's TCP mesh between the two ranks, not what the test checks
        Path(out, f"rank{rank}").write_text(f"{CONNECT_FAILED}: {err}")
        return
    try:
        total = ranks.sum(rank + 1.0, torch.tensor(10.0))
        flag = ranks.any(rank == 1)
        statistics = torch.tensor([2.0 * rank, 1.0])  # a BatchNorm buffer (on CUDA, NCCL's to average)
        ranks.average_([statistics])
        ranks.barrier()
        result = f"{total} {flag} {statistics.tolist()}"
    except RuntimeError as err:
        result = f"error: {err}"
    finally:
        distributed.leave()
    Path(out, f"rank{rank}").write_text(result)


def sums_in_group(folder: Path, backend: str | None, record_property) -> list[str]:
    """Each rank's result. Where gloo's loopback TCP mesh fails to connect under a loaded suite ("Connection
    closed by peer"), the group is built again in a new rendezvous, at most twice, and the retry recorded."""
    for attempt in range(3):
        out = folder / f"attempt{attempt}"
        out.mkdir(parents=True)
        mp.start_processes(_sums_in_group, args=(backend, str(out)), nprocs=2, start_method="fork")
        results = [Path(out, f"rank{r}").read_text() for r in range(2)]
        if not any(r.startswith(CONNECT_FAILED) for r in results):
            return results
        record_property("gloo_connect_retry", results)
    raise AssertionError(f"gloo's process group never connected: {results}")


def test_epoch_sums_work_in_the_process_group_built_for_cuda(tmp_path, record_property):
    # the stand-in bites: a group whose only backend serves CUDA cannot sum host tensors (the crash
    # every data-parallel CUDA run met at the end of its first epoch)
    standin = sums_in_group(tmp_path / "standin", as_nccl_dispatches("nccl"), record_property)
    assert all("No backend type associated with device type cpu" in r for r in standin), standin
    assert sums_in_group(tmp_path / "ours", None, record_property) == ["[3.0, 20.0] True [1.0, 1.0]"] * 2


@pytest.mark.parametrize("n,world", [(5, 4), (128, 3), (7, 7), (1000, 8), (129, 2)])
def test_every_rank_gets_images_whenever_the_batch_has_one_per_rank(n, world):
    shares = [Ranks(r, world).share(n) for r in range(world)]
    sizes = [s.stop - s.start for s in shares]
    assert shares[0].start == 0 and shares[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(shares, shares[1:]))  # contiguous, in rank order
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_masks_take_the_weights_memory_format():
    from n2n.masks import float_masks, prunable_parameters
    from n2n.models import build_model, make_arch

    model = build_model(make_arch("resnet50", "digits", "n2nskip-rp", 0.0625, SMALL_SKIPS), 0)
    model.to(memory_format=torch.channels_last)
    params = prunable_parameters(model)
    masks = {n: torch.rand(p.shape) < 0.5 for n, p in params.items()}
    fmasks = float_masks(masks, model)
    assert any(p.dim() == 4 and not p.is_contiguous() for p in params.values())  # channels_last weights exist
    for name, mask in fmasks.items():
        assert mask.stride() == params[name].stride(), name
        assert torch.equal(mask.bool(), masks[name]), name


# aten ops that raise under torch.use_deterministic_algorithms(True) on CUDA (its documentation's list)
NO_DETERMINISTIC_CUDA_KERNEL = {
    "_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward", "adaptive_max_pool2d_backward",
    "avg_pool3d_backward", "fractional_max_pool2d_backward", "fractional_max_pool3d_backward", "max_unpool2d",
    "upsample_linear1d_backward", "upsample_bilinear2d_backward", "upsample_bicubic2d_backward",
    "upsample_trilinear3d_backward", "reflection_pad1d_backward", "reflection_pad2d_backward",
    "nll_loss_forward", "nll_loss2d_forward", "_ctc_loss_backward", "embedding_bag", "put_", "histc",
    "bincount", "median", "grid_sampler_2d_backward",
}


class RecordOps(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func._overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("model_name", ["vgg19", "resnet50"])
def test_deterministic_training_uses_no_op_without_a_deterministic_cuda_kernel(model_name):
    from n2n.data import load_digits_data
    from n2n.pruners import prune
    from n2n.selftest import numerics_restored
    from n2n.skips import add_skips
    from n2n.models import build_model, make_arch
    from n2n.numerics import configure_numerics
    from n2n.training import Recipe, train

    data = load_digits_data()
    data.train_x, data.train_y = data.train_x[:128], data.train_y[:128]
    arch = make_arch(model_name, "digits", "n2nskip-rp_weights", 0.0625, SMALL_SKIPS)  # any mask: the ops are the point
    masks, meta = add_skips(arch, *prune(arch, "n2nskip-rp_weights", 0.1, 0, 0.5), 0)
    recipe = Recipe(epochs=1, batch_size=64, lr=0.01, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9,
                    weight_decay=5e-4, eval_batch_size=512, deterministic=True)
    with numerics_restored():
        configure_numerics(recipe)
        assert torch.are_deterministic_algorithms_enabled()
        with RecordOps() as recorder:
            train(build_model(arch, 0), masks, data, recipe, 0, torch.device("cpu"))
    assert "convolution_backward" in recorder.ops  # the backward pass was recorded too
    assert not recorder.ops & NO_DETERMINISTIC_CUDA_KERNEL, sorted(recorder.ops & NO_DETERMINISTIC_CUDA_KERNEL)


def test_the_deterministic_loss_is_cross_entropy():
    from n2n.numerics import cross_entropy

    out, y = torch.randn(64, 10, dtype=torch.float64), torch.randint(0, 10, (64,))
    plain = torch.nn.functional.cross_entropy(out, y, reduction="sum")
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.allclose(cross_entropy(out, y, reduction="sum"), plain, rtol=1e-12)
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("settings,tf32,deterministic", [
    ({"precision": "auto"}, None, False), ({"precision": "fp32"}, False, False),
    ({"precision": "auto", "deterministic": True}, False, True)])
def test_numerics_follow_precision_and_deterministic(settings, tf32, deterministic):
    from n2n.selftest import numerics_restored
    from n2n.numerics import configure_numerics
    from n2n.training import Recipe

    recipe = Recipe(epochs=1, batch_size=1, lr=0.1, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9, weight_decay=0,
                    eval_batch_size=1, **settings)
    with numerics_restored():
        defaults = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        configure_numerics(recipe)
        flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        assert flags == (defaults if tf32 is None else (tf32, tf32))  # None: PyTorch's defaults untouched
        assert torch.are_deterministic_algorithms_enabled() is deterministic
        if deterministic:
            assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


# GPU assignment on one workstation: each job a process of its own, the machine's GPU count faked
CLAIM = """
import os, sys, time
import n2n.gpus as gpus
gpus.device_count = lambda: 4
count, hold, wait = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
try:
    with gpus.claim_gpus(count, wait_s=wait):
        print(time.time(), os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
        time.sleep(hold)
except gpus.NoFreeGpu as err:
    print("error:", err, flush=True)
    sys.exit(3)
"""


def claim(tmp_path: Path, count: int, hold: float, wait: float = 30.0) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
    env["N2N_GPU_LOCK_DIR"] = str(tmp_path / "locks")
    return subprocess.Popen([sys.executable, "-c", CLAIM, str(count), str(hold), str(wait)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_gpus_of_their_own_and_a_job_waits_for_a_free_one(tmp_path):
    jobs = [claim(tmp_path, n, hold=3.0) for n in (1, 2, 1)]
    claims = [job.stdout.readline().split() for job in jobs]  # each prints once it holds its GPUs
    late = claim(tmp_path, 1, hold=0.0)  # every GPU is held now
    began = time.time()
    assert all(job.wait(timeout=60) == 0 for job in jobs)
    held = [set(c[1].split(",")) for c in claims]
    assert [len(h) for h in held] == [1, 2, 1]
    assert set.union(*held) == {"0", "1", "2", "3"}  # four distinct GPUs: nobody shares
    assert late.wait(timeout=60) == 0
    got_at = float(late.stdout.readline().split()[0])
    assert got_at >= max(float(c[0]) for c in claims) + 2.5 and got_at > began  # only once a job released one


def test_a_job_that_cannot_get_its_gpus_says_why(tmp_path):
    too_many = claim(tmp_path, 5, hold=0)
    assert too_many.wait(timeout=60) == 3
    assert "needs 5 GPUs; this machine has 4" in too_many.stdout.read()
    holder = claim(tmp_path, 4, hold=5)
    holder.stdout.readline()
    waiting = claim(tmp_path, 1, hold=0, wait=0.5)
    assert waiting.wait(timeout=60) == 3
    message = waiting.stdout.read()
    assert "no 1 free GPU after 0 s" in message and f"pid {holder.pid}" in message
    holder.wait(timeout=60)


def test_a_stage_claims_its_processes_gpus_and_slurm_jobs_keep_their_own(monkeypatch, tmp_path):
    from n2n import gpus, stage

    monkeypatch.setattr(gpus, "device_count", lambda: 4)
    monkeypatch.setenv("N2N_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert stage.gpus_needed({"device": "auto", "processes": 2}) == 2
    assert stage.gpus_needed({"device": "cuda"}) == 1
    assert stage.gpus_needed({"device": "cpu", "processes": 2}) == 0
    assert stage.gpus_needed({"threads": 2}) == 0  # a stage with no device argument
    with gpus.claim_gpus(2) as ids:
        assert ids == ["0", "1"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    before = set(tmp_path.iterdir())
    with gpus.claim_gpus(1) as ids:  # SLURM assigned this job's GPU: no lock taken, nothing changed
        assert ids == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        assert set(tmp_path.iterdir()) == before
    monkeypatch.setattr(gpus, "device_count", lambda: 0)
    monkeypatch.delenv("SLURM_JOB_ID")
    assert stage.gpus_needed({"device": "auto"}) == 0  # no GPU here: auto means the CPU


def test_selftest_passes_on_the_cpu():
    proc = subprocess.run([sys.executable, "-m", "n2n", "selftest", "--device", "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.split(" ")[0] in ("PASS", "FAIL", "SKIP")]
    assert [line.split(":")[0] for line in lines] == [
        "PASS channel-sparse layers", "PASS bf16 training and evaluation", "PASS torch.compile", "PASS data-parallel ranks", "PASS JPEG decoding",
        "PASS deterministic repeat", "PASS throughput"]


def _raise_in_rank(rank: int, world: int, rendezvous: str) -> None:
    raise ValueError(f"rank {rank} cannot start")


def test_ranks_that_all_fail_alike_are_reported_by_name(monkeypatch):
    """Every rank failing with the same exit code (an error at start-up): the first is named."""
    from n2n.distributed import RankFailed, run_ranks

    monkeypatch.setenv("N2N_RANK_START", "fork")
    with pytest.raises(RankFailed, match=r"rank 0 of 2 exited with code 1 .*the other ranks were stopped"):
        run_ranks(f"{__name__}:_raise_in_rank", 2, "cpu", {}, [])


def test_data_parallel_training_on_cuda_refuses_more_processes_than_gpus(tmp_path, monkeypatch):
    """The CUDA branch of run_train, with CUDA faked: too few visible GPUs is an error before any rank starts."""
    from n2n import distributed, training

    monkeypatch.setattr(training, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(distributed, "run_ranks", lambda *a, **k: pytest.fail("a rank was started"))
    recipe = {"epochs": 1, "batch_size": 8, "lr": 0.1, "lr_step_epochs": 1, "lr_gamma": 0.5, "momentum": 0.9,
              "weight_decay": 0.0, "eval_batch_size": 8}
    with pytest.raises(RuntimeError, match="training on 2 processes needs 2 GPUs; 1 are visible to this job"):
        training.run_train("unused.npz", str(tmp_path / "m.pt"), str(tmp_path / "m.parquet"), str(tmp_path / "c.pt"),
                           "digits", "data", recipe, "cuda", 1, processes=2)


def test_an_unknown_rank_start_method_is_named(monkeypatch):
    from n2n.distributed import start_method

    monkeypatch.setenv("N2N_RANK_START", "thread")
    with pytest.raises(ValueError, match="N2N_RANK_START='thread': expected spawn or fork"):
        start_method("cuda")
    monkeypatch.delenv("N2N_RANK_START")
    assert (start_method("cuda"), start_method("cpu")) == ("spawn", "fork")
