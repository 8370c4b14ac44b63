"""Training: a job killed mid-way resumes from its checkpoint and ends exactly like an uninterrupted run."""

import dataclasses

import pandas as pd
import pytest
import torch

import forked
from conftest import SMALL_SKIPS, train_call, train_env
from n2n.data import augment, load_digits_data
from n2n.masks import save_masks
from n2n.models import make_arch
from n2n.pruners import prune
from n2n.modelfiles import CheckpointError, load_checkpoint, load_model

RECIPE = {"epochs": 2, "batch_size": 128, "lr": 0.05, "lr_step_epochs": 1, "lr_gamma": 0.5, "momentum": 0.9,
          "weight_decay": 5e-4, "eval_batch_size": 512, "num_workers": 0,
          "bn_statistics_images": 256}  # resumed with re-estimated BatchNorm statistics in the checkpoint

def write_mask_file(folder, model, width):
    from n2n.skips import add_skips

    data = load_digits_data()
    arch = make_arch(model, "digits", "n2nskip-csp", width, SMALL_SKIPS)
    masks, meta = prune(arch, "n2nskip-csp", 0.05, 0, 0.5, lambda: data)
    masks, meta = add_skips(arch, masks, meta, 0)
    save_masks(folder / "skip_mask.npz", masks, meta)
    return folder / "skip_mask.npz"


@pytest.fixture(scope="module")
def mask_file(tmp_path_factory):
    """ResNet50 with N2NSkip: bottlenecks, projection shortcuts and skips all resume exactly (at width 1/16 an
    epoch costs a third of one at 1/8)."""
    return write_mask_file(tmp_path_factory.mktemp("resnet"), "resnet50", 0.0625)


@pytest.fixture(scope="module")
def vgg_mask_file(tmp_path_factory):
    """VGG19 with N2NSkip: three times cheaper to train, for the tests of stopping."""
    return write_mask_file(tmp_path_factory.mktemp("vgg"), "vgg19", 0.125)


def run_train(folder, mask_file, kill_after=None):
    return forked.run(*train_call(folder, mask_file, RECIPE), env=train_env(kill_after))


def test_killed_job_resumes_to_the_same_result(tmp_path, mask_file):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    assert run_train(whole, mask_file).returncode == 0
    first = run_train(killed, mask_file, kill_after=1)  # the resumed epoch runs at the stepped learning rate
    assert first.returncode == -9  # SIGKILL after epoch 1's checkpoint
    assert not (killed / "model.pt").exists() and (killed / "ckpt.pt").exists()
    assert torch.load(killed / "ckpt.pt", weights_only=True)["epoch"] == 1
    second = run_train(killed, mask_file)
    assert second.returncode == 0, second.stderr
    assert not (killed / "ckpt.pt").exists()
    a, b = pd.read_parquet(whole / "metrics.parquet"), pd.read_parquet(killed / "metrics.parquet")
    assert len(a) == len(b) == 2
    pd.testing.assert_series_equal(a["test_accuracy"], b["test_accuracy"])
    pd.testing.assert_series_equal(a["train_loss"], b["train_loss"])
    wa, _ = load_model(whole / "model.pt")
    wb, _ = load_model(killed / "model.pt")
    for (name, p), q in zip(wa.state_dict().items(), wb.state_dict().values()):
        assert torch.equal(p, q), name


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path, mask_file):
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"not a checkpoint")
    proc = run_train(tmp_path, mask_file)
    assert proc.returncode != 0 and "corrupt or not a checkpoint" in proc.stderr
    torch.save({"format": "n2n-train-checkpoint-v1", "identity": {"method": "rp"}, "epoch": 1}, ckpt)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        load_checkpoint(ckpt, {"method": "csp"})
    (tmp_path / "model.pt").write_bytes(b"\0" * 10)
    with pytest.raises(CheckpointError, match="not a readable n2n model file"):
        load_model(tmp_path / "model.pt")


def test_batch_augmentation_is_a_padded_crop_and_flip():
    data = load_digits_data()
    x = data.train_x[:64]
    gen = torch.Generator().manual_seed(0)
    out = augment(x, 2, True, gen)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # every output is a window of the padded image, possibly mirrored
        found = any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2))
                    for dy in range(5) for dx in range(5) for w in [padded[i, :, dy:dy + 16, dx:dx + 16]])
        assert found


def test_sigusr1_checkpoints_and_exits_to_resume(tmp_path, vgg_mask_file):
    """SLURM's warning before a time limit: the job finishes its epoch, exits 75, and a rerun resumes."""
    import signal
    import time

    recipe = {**RECIPE, "epochs": 4}  # the signal comes in epoch 2: the job stops after it, before the end
    call = train_call(tmp_path, vgg_mask_file, recipe)
    proc = forked.Forked(*call, tmp_path / "stopped.stderr", env=train_env())
    deadline = time.time() + 120
    while not (tmp_path / "ckpt.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=120) == 75
    stopped_at = torch.load(tmp_path / "ckpt.pt", weights_only=True)["epoch"]
    assert 1 <= stopped_at < 4 and not (tmp_path / "model.pt").exists()
    rerun = forked.run(*call, env=train_env())
    assert rerun.returncode == 0, rerun.stderr
    assert len(pd.read_parquet(tmp_path / "metrics.parquet")) == 4


def test_a_diverging_run_fails_loudly_and_keeps_its_last_good_checkpoint(tmp_path, vgg_mask_file):
    # epoch 1 at lr 0.05, epoch 2 at lr 5e10: the loss overflows to NaN or infinity
    recipe = {**RECIPE, "epochs": 3, "lr_step_epochs": 1, "lr_gamma": 1e12}
    proc = forked.run(*train_call(tmp_path, vgg_mask_file, recipe), env=train_env())
    assert proc.returncode != 0
    assert f"{tmp_path}: training diverged in epoch 2" in proc.stderr
    assert "the checkpoint of epoch 1 is kept" in proc.stderr
    assert torch.load(tmp_path / "ckpt.pt", weights_only=True)["epoch"] == 1
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "metrics.parquet").exists()


def test_a_pruned_model_file_stores_only_its_kept_weights(tmp_path):
    from n2n.masks import apply_masks_, float_masks
    from n2n.models import build_model
    from n2n.modelfiles import save_model

    arch = make_arch("vgg19", "cifar10", "rp", 0.25, SMALL_SKIPS)
    masks, meta = prune(arch, "rp", 0.02, 0, 0.5)
    net = build_model(arch, 0)
    apply_masks_(net, float_masks(masks, net))
    save_model(tmp_path / "sparse.pt", net, meta, masks)
    save_model(tmp_path / "dense.pt", net, meta)  # no masks: every weight stored
    assert (tmp_path / "sparse.pt").stat().st_size <= (tmp_path / "dense.pt").stat().st_size / 10
    sparse, _ = load_model(tmp_path / "sparse.pt")
    dense, _ = load_model(tmp_path / "dense.pt")
    for (name, p), q in zip(net.state_dict().items(), sparse.state_dict().values()):
        assert torch.equal(p, q), name
    assert all(torch.equal(p, q) for p, q in zip(dense.state_dict().values(), sparse.state_dict().values()))
    leaky = build_model(arch, 0)  # pruned weights not zeroed: refused, never silently dropped
    with pytest.raises(RuntimeError, match="pruned weights are nonzero"):
        save_model(tmp_path / "leaky.pt", leaky, meta, masks)


def tiny_vgg(seed=0):
    from n2n.models import build_model

    return build_model(make_arch("vgg19", "digits", "dense", 0.0625, SMALL_SKIPS), seed)


def test_reestimated_batchnorm_statistics_are_the_average_of_the_batches():
    from n2n.training import BN_STATISTICS_ORDER, reestimate_batchnorm

    data, model = load_digits_data(), tiny_vgg()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    inputs: dict[int, list[torch.Tensor]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: inputs.setdefault(id(m), []).append(args[0].clone()))
             for m in [model, *norms]]
    reestimate_batchnorm(model, data, 300, 128)  # 3 batches: the third one is whole
    for hook in hooks:
        hook.remove()
    # the first 3 batches of a fixed order, drawn from a generator of its own
    batches = [x for (x, _), _ in zip(data.train_batches(128, torch.Generator().manual_seed(BN_STATISTICS_ORDER)),
                                      range(3))]
    assert len(inputs[id(model)]) == 3 and all(torch.equal(a, b) for a, b in zip(inputs[id(model)], batches))
    for norm in norms:
        seen = inputs[id(norm)]
        mean = torch.stack([x.mean((0, 2, 3)) for x in seen]).mean(0)
        var = torch.stack([x.var((0, 2, 3), unbiased=True) for x in seen]).mean(0)
        torch.testing.assert_close(norm.running_mean, mean, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(norm.running_var, var, rtol=1e-4, atol=1e-6)
        assert norm.momentum == 0.1 and norm.training  # its own settings back


def test_reestimated_batchnorm_statistics_leave_the_training_as_it_was():
    from n2n.evaluation import evaluate
    from n2n.training import Recipe, train

    data = load_digits_data()
    recipe = Recipe(epochs=2, batch_size=128, lr=0.05, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9,
                    weight_decay=5e-4, eval_batch_size=512)
    plain, reestimated = tiny_vgg(), tiny_vgg()
    rows_plain = train(plain, {}, data, recipe, 0, torch.device("cpu"))
    rows = train(reestimated, {}, data, dataclasses.replace(recipe, bn_statistics_images=512), 0, torch.device("cpu"))
    assert [r["train_loss"] for r in rows] == [r["train_loss"] for r in rows_plain]
    for name, weight in plain.named_parameters():
        assert torch.equal(weight, dict(reestimated.named_parameters())[name]), name
    norm = next(m for m in reestimated.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.equal(norm.running_var, next(m for m in plain.modules()
                                                  if isinstance(m, torch.nn.BatchNorm2d)).running_var)
    # the model keeps the statistics its last test used: the evaluate stage measures the same accuracy
    assert evaluate(reestimated, data, 512)[1] == rows[-1]["test_accuracy"]


def test_test_epochs_skip_the_test_set_between_them_and_change_nothing_else():
    import math

    from n2n.training import Recipe, train

    data = load_digits_data()
    every = Recipe(epochs=3, batch_size=128, lr=0.05, lr_step_epochs=1, lr_gamma=0.5, momentum=0.9,
                   weight_decay=5e-4, eval_batch_size=512, bn_statistics_images=256)
    rows_every = train(tiny_vgg(), {}, data, every, 0, torch.device("cpu"))
    rows = train(tiny_vgg(), {}, data, Recipe.from_dict({**dataclasses.asdict(every), "test_epochs": [1]}), 0,
                 torch.device("cpu"))
    assert [r["train_loss"] for r in rows] == [r["train_loss"] for r in rows_every]
    assert math.isnan(rows[1]["test_accuracy"]) and math.isnan(rows[1]["test_loss"])
    for tested in (0, 2):  # epoch 1, as asked, and the last, always
        assert rows[tested]["test_accuracy"] == rows_every[tested]["test_accuracy"]
