"""Real Snakemake runs on tiny grids: the whole pipeline, malformed targets, bad configs, the paper's DAG."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import ROOT, run_snakemake, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, demo_config):
    tmp = tmp_path_factory.mktemp("tiny")
    config = tiny_config(demo_config, tmp / "results", methods=["dense", "rp", "n2nskip-rp", "resskip-csp"])
    run_snakemake(["all_tables"], config, tmp)
    return tmp, config


def test_tiny_grid_writes_every_table_and_figure(tiny_run):
    tmp, config = tiny_run
    results = tmp / "results"
    for name in ("table1", "table2", "table3"):
        table = pd.read_parquet(results / "tables" / f"{name}.parquet")
        assert {"model", "dataset", "method", "density", "n_seeds", "mean", "std", "paper", "difference"} <= set(table)
        assert (table["n_seeds"] == 1).all()
        assert (results / "tables" / f"{name}.md").read_text().startswith("## Table")
    table1 = pd.read_parquet(results / "tables" / "table1.parquet")
    assert set(table1["method"]) == {"dense", "rp", "n2nskip-rp", "resskip-csp"}
    table3 = pd.read_parquet(results / "tables" / "table3.parquet")
    assert table3["is_t_sat"].sum() == 3 and table3["t"].nunique() == 16 + 2  # grid + t_sat + infinity
    for name in ("convergence", "skip_comparison", "heat_signature", "heat_layers", "scree"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 1000


def test_cell_outputs_are_documented_and_exact(tiny_run):
    tmp, config = tiny_run
    for method in ("dense", "rp", "n2nskip-rp", "resskip-csp"):
        density = "1.0" if method == "dense" else "0.1"
        cell = tmp / "results" / "vgg19" / "digits" / method / density / "seed0"
        acc = json.loads((cell / "acc.json").read_text())
        for key in ("test_accuracy", "target_density", "density", "params_nonzero", "params_dense", "epochs",
                    "device", "seconds", "min_layer_kept", "min_layer_kept_name", "outputs_reached", "outputs",
                    "cut_apart", "chance_accuracy", "train_loss_first", "train_loss_best_later"):
            assert key in acc
        assert acc["outputs"] == 10 and acc["chance_accuracy"] == 10.0
        assert abs(acc["density"] - acc["target_density"]) <= 1e-3 * acc["target_density"]
        metrics = pd.read_parquet(cell / "metrics.parquet")
        assert list(metrics.columns) == ["epoch", "lr", "train_loss", "train_accuracy", "test_loss",
                                         "test_accuracy", "seconds"]
        nodes = pd.read_parquet(cell / "nodes.parquet")
        assert list(nodes.columns) == ["node", "tensor", "channel", "is_source"]
        heat = pd.read_parquet(cell / "heat.parquet")
        assert list(heat.columns) == ["t", "node", "S"] and len(heat) == 18 * len(nodes)
        scree = pd.read_parquet(cell / "scree.parquet")
        assert scree["alpha"].between(0, 1).all() and len(scree) == 17 * 20
        layers = pd.read_parquet(cell / "heat_layers.parquet")
        assert layers["tensor"].nunique() == nodes["tensor"].nunique()
        assert not list(cell.glob("*.tmp*")) and not (cell / "train_checkpoint.pt").exists()
    claims = pd.read_parquet(tmp / "results" / "tables" / "claims.parquet")
    assert {"n_pairs", "n_excluded", "excluded", "half_width", "p_value", "level", "level_equivalence",
            "reference_effect", "reference_source", "verdict"} <= set(claims)
    assert set(claims["verdict"]) <= {"unreliable", "not run"}  # one seed: no verdict but the reason
    assert (tmp / "results/vgg19/digits/n2nskip-rp/0.1/seed0/skip_mask.npz").exists()
    assert not (tmp / "results/vgg19/digits/rp/0.1/seed0/skip_mask.npz").exists()


def test_rerun_has_nothing_to_do(tiny_run):
    tmp, config = tiny_run
    proc = run_snakemake(["-n", "all_tables"], config, tmp)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_one_cell_is_a_target(tiny_run):
    tmp, config = tiny_run
    proc = run_snakemake(["-n", f"{tmp}/results/vgg19/digits/n2nskip-csp/0.02/seed3/acc.json"], config, tmp)
    out = proc.stdout + proc.stderr
    for rule in ("prune", "add_skips", "train", "evaluate"):
        assert f"rule {rule}:" in out or f"localrule {rule}:" in out


# every malformed cell the registry refuses is in tests/test_config.py::test_cell_checks; here, that the
# workflow refuses a target with the registry's message before any job, for a bad density and a bad name
@pytest.mark.parametrize(
    "target, message",
    [
        ("vgg19/digits/rp/0.5x/seed0/acc.json", "density '0.5x' is not a number"),
        ("vgg11/digits/rp/0.1/seed0/acc.json", "unknown model 'vgg11'"),
        ("vgg19/digits/rp/0.1/seed0/accuracy.json", "a cell has no file 'accuracy.json'. A cell's files are"),
        ("vgg19/digits/rp/0.1/acc.json", "a cell's file lies 6 folders below"),
    ],
)
def test_malformed_target_is_refused(tmp_path, demo_config, target, message):
    config = tiny_config(demo_config, tmp_path / "results")
    proc = run_snakemake(["-n", f"{tmp_path}/results/{target}"], config, tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    if "cell's file" in message:  # the project's sentence stands alone, with the list of a cell's files
        assert "\nno rule writes " in proc.stderr and "  acc.json " in proc.stderr and "Traceback" not in proc.stderr


def test_bad_config_stops_before_any_job(tmp_path, demo_config):
    config = tiny_config(demo_config, tmp_path / "results", densities=[1.5])
    proc = run_snakemake(["all_tables"], config, tmp_path, check=False)
    assert proc.returncode != 0 and "densities" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_install_names_a_full_disk_before_it_starts(tmp_path):
    # the Makefile, run for real in a scratch folder: asking for more free space than any disk has
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    proc = subprocess.run(["make", "install", "NEED_GB=1000000"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "make install: needs about 1000000 GB free for .venv" in proc.stderr
    assert not (tmp_path / ".venv").exists()


def test_dag_rulegraph_and_summary(tiny_run):
    tmp, config = tiny_run
    graph = run_snakemake(["--rulegraph", "dot", "all_tables"], config, tmp).stdout
    for rule in ("prune", "add_skips", "train", "evaluate", "adjacency", "heat_signature", "table", "figure"):
        assert f'label = "{rule}"' in graph
    dag = run_snakemake(["--dag", "dot", "all_tables"], config, tmp).stdout
    assert dag.startswith("digraph")
    summary = run_snakemake(["--summary", "all_tables"], config, tmp).stdout
    assert "acc.json" in summary


def test_report_holds_every_table_and_figure_with_its_caption(tiny_run):
    tmp, config = tiny_run
    report = tmp / "report.html"
    run_snakemake(["--report", str(report), "all_tables"], config, tmp)
    html = report.read_text()
    for name in ("table1", "table2", "table3", "pruners"):
        assert f"{name}.md" in html and f"{name}.parquet" in html
    for name in ("convergence", "skip_comparison", "heat_signature", "heat_layers", "scree", "pruner_comparison",
                 "layer_densities"):
        assert f"{name}.png" in html
    assert "config_used.yaml" in html
    for caption in ("Table 1: test accuracy", "Scree curves", "N2NSkip against ResSkip", "methods dense, rp"):
        assert caption in html, caption
    for category in ("Accuracy", "Connectivity", "Pruners", "Convergence", "Configuration"):
        assert category in html
