"""Configuration: JSON-schema validation plus the checks a schema cannot express.

`check_config` raises ConfigError with one message naming every problem, so a bad
config stops the workflow before any job runs.
"""

from __future__ import annotations

import copy

import itertools
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from n2n import registry

SCHEMA_FILE = "schemas/config.schema.yaml"
GRIDS = (("tables", "table1"), ("tables", "table2"), ("tables", "table3"), ("tables", "pruners"),
         ("figures", "skip_comparison"), ("figures", "convergence"))


class ConfigError(ValueError):
    """The configuration is malformed; the message names every problem found."""


def schema_path() -> Path:
    return Path(str(resources.files("n2n").joinpath(SCHEMA_FILE)))


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(schema_path().read_text())


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, dictionaries merged key by key (lists replaced), as Snakemake merges
    `configfile:` and `--configfile`."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(*paths: str | Path) -> dict[str, Any]:
    """The configuration of these files, each over the ones before it (config.yaml, then config/demo.yaml)."""
    config: dict[str, Any] = {}
    for path in paths:
        try:
            config = merged(config, yaml.safe_load(Path(path).read_text()) or {})
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
    check_config(config)
    return config


def stop_on_error(check: Any, *args: Any) -> None:
    """Run a check of the Snakefile; a problem it names (a ValueError) is printed alone and ends Snakemake,
    without the traceback Snakemake would wrap it in."""
    try:
        check(*args)
    except ValueError as err:
        print(f"\n{err}\n", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def check_config(config: Any) -> None:
    """Validate `config` against the schema and the registries; raise ConfigError on any problem."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    # an option of several forms (a number, or one per model) is named by the form it came closest to
    errors = [jsonschema.exceptions.best_match([err]) for err in validator.iter_errors(config)]
    problems = [
        f"{'/'.join(map(str, err.absolute_path)) or '<top>'}: {err.message}"
        for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not problems:
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError("invalid n2n config:\n  - " + "\n  - ".join(problems))


def _semantic_problems(config: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for section, name in GRIDS:
        grid = config[section][name]
        where = f"{section}/{name}"
        for model in grid["models"]:
            if model not in registry.MODELS:
                problems.append(f"{where}: unknown model {model!r} (known: {', '.join(registry.MODELS)})")
                continue
            for option in ("densities", "methods"):
                if isinstance(grid[option], dict) and model not in grid[option]:
                    problems.append(f"{where}: {option} name no list for {model!r} (give one list, or one per model)")
        for dataset in grid["datasets"]:
            if dataset not in registry.DATASETS:
                problems.append(f"{where}: unknown dataset {dataset!r} (known: {', '.join(registry.DATASETS)})")
        methods = grid["methods"].values() if isinstance(grid["methods"], dict) else [grid["methods"]]
        for method in dict.fromkeys(m for listed in methods for m in listed):
            try:
                registry.split_method(method)
            except registry.UnknownNameError as err:
                problems.append(f"{where}: {err}")
    width = config["width"]
    if isinstance(width, dict):
        missing = sorted({m for s, n in GRIDS for m in config[s][n]["models"]} - set(width))
        if missing:
            problems.append(f"width: no width for {', '.join(missing)} (give one number, or one per model)")
    for dataset in config.get("dataset_training", {}):
        if dataset not in registry.DATASETS:
            problems.append(f"dataset_training: unknown dataset {dataset!r}")
    problems += _test_epoch_problems(config)
    regime = set(config.get("claims", {}).get("regime_seeds", []))
    for section, name in GRIDS:
        overlap = sorted(regime & set(config[section][name].get("seeds", config["seeds"])))
        if overlap:
            problems.append(f"{section}/{name}: seeds {', '.join(map(str, overlap))} chose this study's regime "
                            "(claims.regime_seeds): run the study on other seeds")
    conn = config["connectivity"]
    if conn["t_min"] >= conn["t_max"]:
        problems.append("connectivity: t_min must be below t_max")
    if not problems and needs_data_root(config):
        root = Path(config["data_root"])
        if root.exists() and not root.is_dir():
            problems.append(f"data_root: {root} exists but is not a folder")
    return problems


def _test_epoch_problems(config: dict[str, Any]) -> list[str]:
    """Tested epochs exist, and claim 3's early epoch is one of them (else it would compare untested epochs)."""
    problems = []
    early = config.get("claims", {}).get("early_epoch")
    recipes = {"training": config["training"],
               **{f"dataset_training/{d}": training_recipe(config, d) for d in config.get("dataset_training", {})}}
    for where, recipe in recipes.items():
        tested = recipe.get("test_epochs") or []
        if not tested:
            continue
        late = sorted(e for e in tested if e > recipe["epochs"])
        if late:
            problems.append(f"{where}/test_epochs: {late} after the last epoch ({recipe['epochs']})")
        if early is not None and early < recipe["epochs"] and early not in tested:
            problems.append(f"{where}/test_epochs: claims/early_epoch {early} is not tested (claim 3 compares "
                            f"test accuracy there): add it to test_epochs, or leave test_epochs out to test every epoch")
    return problems


def needs_data_root(config: dict[str, Any]) -> bool:
    return any(registry.DATASETS[d].folder for s, n in GRIDS for d in config[s][n]["datasets"])


@dataclass(frozen=True)
class Cell:
    """One (model, dataset, method, density, seed) of the experiment grid."""

    model: str
    dataset: str
    method: str
    density: str  # canonical spelling, as in paths
    seed: int

    def path(self, results_dir: str) -> str:
        return f"{results_dir}/{self.model}/{self.dataset}/{self.method}/{self.density}/seed{self.seed}"


def grid_cells(config: dict[str, Any], section: str, name: str) -> list[Cell]:
    """The cells of one table or figure; `dense` appears once, at density 1.0."""
    grid = config[section][name]
    seeds = grid.get("seeds", config["seeds"])
    cells: dict[Cell, None] = {}
    for model in grid["models"]:
        for dataset, method, density, seed in itertools.product(
            grid["datasets"], for_model(grid["methods"], model), for_model(grid["densities"], model), seeds
        ):
            d = 1.0 if method == "dense" else float(density)
            cells[Cell(model, dataset, method, registry.format_density(d), int(seed))] = None
    return list(cells)


def for_model(option: Any, model: str) -> Any:
    """An option given once for every model, or as a mapping with one value per model (width, a grid's
    methods and densities)."""
    return option[model] if isinstance(option, dict) else option


def training_recipe(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The training recipe for a data set: `training` with `dataset_training[dataset]` on top."""
    recipe = dict(config["training"])
    recipe.update(config.get("dataset_training", {}).get(dataset, {}))
    recipe.setdefault("num_workers", 4)
    return recipe


def model_width(config: dict[str, Any], model: str) -> float:
    """The width multiplier of a model: `width` is one number for every model, or one per model."""
    return float(for_model(config["width"], model))


def write_config(config: dict[str, Any], path: str | Path) -> None:
    """The configuration a run used, as YAML (written atomically)."""
    from n2n.io import write_text

    write_text(path, yaml.safe_dump(config, sort_keys=False))
