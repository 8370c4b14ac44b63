import copy
import re

import pytest
import yaml

from n2n import registry
from n2n.config import ConfigError, check_config, grid_cells, load_config


def test_shipped_configs_are_valid(paper_config, demo_config):
    check_config(paper_config)
    merged = copy.deepcopy(paper_config)
    merged.update(demo_config)
    check_config(demo_config)


def test_paper_grid_sizes(paper_config):
    # Table 1: 2 models x 2 data sets x (dense + 4 methods x 3 densities) x 5 seeds
    assert len(grid_cells(paper_config, "tables", "table1")) == 2 * 2 * 13 * 5
    assert len(grid_cells(paper_config, "tables", "table2")) == 13 * 5
    assert {c.density for c in grid_cells(paper_config, "tables", "table1") if c.method == "dense"} == {"1.0"}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["tables"]["table1"].update(models=["vgg16"]), "unknown model 'vgg16'"),
        (lambda c: c["tables"]["table1"].update(datasets=["mnist"]), "unknown dataset 'mnist'"),
        (lambda c: c["tables"]["table1"].update(methods=["n2nskip-foo"]), "pruner 'foo'"),
        (lambda c: c["tables"]["table1"].update(methods=["xskip-rp"]), "skip kind 'xskip'"),
        (lambda c: c["tables"]["table1"].update(densities=[1.5]), "tables/table1/densities/0"),
        (lambda c: c["tables"]["table1"].update(densities=[0.0]), "tables/table1/densities/0"),
        (lambda c: c.pop("data_root"), "'data_root' is a required property"),
        (lambda c: c["training"].update(lr="fast"), "training/lr"),
        (lambda c: c["training"].update(bn_statistics_images=-1), "training/bn_statistics_images"),
        (lambda c: c.update(unknown_key=1), "unknown_key"),
        (lambda c: c["training"].update(test_epochs=[301]), "training/test_epochs: [301] after the last epoch (300)"),
        (lambda c: c["training"].update(test_epochs=[10]), "training/test_epochs: claims/early_epoch 50 is not tested"),
        (lambda c: c["dataset_training"]["imagenet"].update(test_epochs=[10]),
         "dataset_training/imagenet/test_epochs: claims/early_epoch 50"),
        (lambda c: c.update(width={"vgg19": 0.25}), "width: no width for resnet50"),
        (lambda c: c.update(width={"vgg19": -1, "resnet50": 1}), "width/vgg19"),
        (lambda c: c["tables"]["table1"].update(densities={"vgg19": [0.1]}), "densities name no list for 'resnet50'"),
        (lambda c: c["tables"]["table1"].update(methods={"vgg19": ["rp"]}), "methods name no list for 'resnet50'"),
        (lambda c: c["tables"]["table1"].update(methods={"vgg19": ["rp"], "resnet50": ["cps"]}), "pruner 'cps'"),
        (lambda c: c["tables"]["table1"].update(densities={"vgg19": [2.0], "resnet50": [0.1]}),
         "tables/table1/densities/vgg19/0"),
        (lambda c: c["claims"].update(regime_seeds=[3, 100]),
         "tables/table1: seeds 3 chose this study's regime (claims.regime_seeds)"),
    ],
)
def test_bad_config_names_the_problem(paper_config, edit, message):
    config = copy.deepcopy(paper_config)
    edit(config)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config)


def test_the_study_gives_each_model_its_own_width_and_densities():
    from conftest import ROOT
    from n2n.config import model_width

    study = load_config(ROOT / "config.yaml", ROOT / "config" / "demo.yaml", ROOT / "config" / "study.yaml")
    assert model_width(study, "vgg19") == 0.25 and model_width(study, "resnet50") == 0.125
    assert len(grid_cells(study, "tables", "table1")) == (1 + 4 + 3) * 5 * 2  # dense, 4 methods, 3 controls
    study["tables"]["table1"]["densities"] = {"vgg19": [0.1], "resnet50": [0.1, 0.05]}
    cells = grid_cells(study, "tables", "table1")
    assert {c.density for c in cells if c.model == "vgg19"} == {"1.0", "0.1"}
    assert {c.density for c in cells if c.model == "resnet50"} == {"1.0", "0.1", "0.05"}
    assert len(cells) == (1 + 7) * 5 + (1 + 7 * 2) * 5


def test_malformed_yaml_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seeds: [0, 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize(
    "cell, message",
    [
        (("vgg19", "cifar10", "rp", "0.02"), None),
        (("vgg19", "cifar10", "n2nskip-rp", "1.0"), None),
        (("vgg11", "cifar10", "rp", "0.02"), "unknown model"),
        (("vgg19", "cifar10", "rp", "0.020"), "must be written '0.02'"),
        (("vgg19", "cifar10", "rp", "2.0"), "outside"),
        (("vgg19", "cifar10", "rp", "0.0"), "outside"),
        (("vgg19", "cifar10", "rp", "abc"), "not a number"),
        (("vgg19", "cifar10", "rp", "0.5x"), "density '0.5x' is not a number"),
        (("vgg19", "mnist", "rp", "0.1"), "unknown dataset 'mnist'"),
        (("vgg19", "cifar10", "xyz", "0.1"), "pruner 'xyz'"),
        (("vgg19", "cifar10", "dense", "0.1"), "density 1.0"),
        (("vgg19", "cifar10", "n2nskip-dense", "1.0"), "not to dense"),
    ],
)
def test_cell_checks(cell, message):
    if message is None:
        registry.check_cell(*cell)
    else:
        with pytest.raises(registry.UnknownNameError, match=message):
            registry.check_cell(*cell)


def test_demo_config_runs_every_table_and_figure(demo_config):
    assert set(demo_config["tables"]) == {"table1", "table2", "table3", "pruners"}
    assert set(demo_config["figures"]) == {"skip_comparison", "convergence"}
    assert yaml.safe_load(yaml.safe_dump(demo_config)) == demo_config


def test_demo_table1_has_three_seeds_per_cell(demo_config):
    seeds: dict[tuple, set] = {}
    for c in grid_cells(demo_config, "tables", "table1"):
        seeds.setdefault((c.model, c.method, c.density), set()).add(c.seed)
    assert len(seeds) == 8 + 5 and all(len(s) >= 3 for s in seeds.values())  # the controls on VGG19 alone


def test_each_pruners_options_and_the_config_schema_agree():
    """Defaults live in each pruner's Options dataclass; the schema's `pruning.<name>` lists the same fields."""
    from dataclasses import fields

    from n2n.config import schema_path
    from n2n.pruners import pruner_class

    schema = yaml.safe_load(schema_path().read_text())["properties"]["pruning"]["properties"]
    with_options = {name: pruner_class(name).Options for name in registry.PRUNERS if fields(pruner_class(name).Options)}
    assert set(schema) == set(with_options)
    for name, options in with_options.items():
        assert set(schema[name]["properties"]) == {f.name for f in fields(options)}, name
        default = options()
        for f in fields(options):
            value = getattr(default, f.name)
            kind = schema[name]["properties"][f.name]
            allowed = [k.get("type") for k in kind.get("oneOf", [kind])]
            assert ({bool: "boolean", int: "integer", float: "number", type(None): "null"}[type(value)]
                    in allowed), (name, f.name, value, allowed)


def test_an_unknown_pruner_option_is_named():
    from n2n.pruners import load_pruner

    with pytest.raises(ValueError, match=r"GraSPPruner: unknown option\(s\) samples \(known: samples_per_class, "):
        load_pruner("grasp", {"grasp": {"samples": 3}})
