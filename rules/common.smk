# Config validation, wildcard constraints, paths and input functions shared by every rule.
import n2n.cluster
import n2n.config
import n2n.outputs
import n2n.stage
import n2n.stop
from n2n import registry

# The SLURM executor plugin reads job states with sacct, which writes a cancelled job's as
# "CANCELLED by <uid>": slurm/bin/sacct gives the plugin the state's first word (README, cluster)
n2n.cluster.read_sacct_through(f"{workflow.basedir}/slurm/bin")

# SLURM's time-limit warning (SIGUSR1) goes to every process of a job: the training stops to resume,
# and this job's Snakemake process must not die of it (its default action) and take the job with it
n2n.stop.ignore_stop_signal()

# Before any job: the schema (n2n/schemas/config.schema.yaml) and the registries, every problem in
# one message (Snakemake's validate() would stop at the first), said without Snakemake's traceback
# (requested files that nothing writes: rules/unknown.smk)
n2n.config.stop_on_error(n2n.config.check_config, config)

R = config["results_dir"]
DATA = config["data_root"]
ENV = "../envs/n2n.yaml"


def cell_file(name):
    """A file of a cell's folder: results/{model}/{dataset}/{pruner}/{density}/seed{seed}/<name>."""
    return f"{R}/{{model}}/{{dataset}}/{{pruner}}/{{density}}/seed{{seed}}/{name}"


def in_tables(name):
    return f"{R}/tables/{name}"


def in_figures(name):
    return f"{R}/figures/{name}"


def in_results(name):
    return f"{R}/{name}"


def in_data(name):
    return f"{DATA}/{name}"


wildcard_constraints:
    model="[a-z0-9_]+",
    dataset="[a-z0-9_]+",
    pruner="[a-z0-9_-]+",
    density="[^/]+",
    seed="[0-9]+",


def checked(wc):
    """Refuse a malformed cell with a message naming the bad part (unknown model, density 0.5x, ...)."""
    registry.check_cell(wc.model, wc.dataset, wc.pruner, wc.density)
    return wc


def data_input(wc):
    checked(wc)
    return registry.data_folders(wc.dataset, DATA)


def final_mask(wc):
    """skip_mask.npz for n2nskip-X / resskip-X, the prune stage's mask otherwise."""
    skip_kind, _ = registry.split_method(checked(wc).pruner)
    return cell_file("skip_mask.npz" if skip_kind else "prune_mask.npz").format(**wc)


def reference_heat(wc):
    """The dense network of the same model, data set and seed: the reference for F(t)."""
    if checked(wc).pruner == "dense":
        return []
    return f"{R}/{wc.model}/{wc.dataset}/dense/1.0/seed{wc.seed}/heat.parquet"


def res(rule, key, default=None):
    """A resource of `rule` from config['resources'], falling back to its `default` entry."""
    resources = config["resources"]
    return resources.get(rule, {}).get(key, resources["default"].get(key, default))


def train_res(wc, key, default=None):
    """Resources of the train rule; a data set may have its own (`resources.train_imagenet`: several GPUs)."""
    return config["resources"].get(f"train_{wc.dataset}", {}).get(key, res("train", key, default))


def prune_res(wc, key, default=None):
    """Resources of the prune rule; learned pruners use `resources.prune_learned`."""
    pruner, _ = registry.split_control(registry.split_method(wc.pruner)[1])
    return res("prune_learned" if pruner in registry.LEARNED_PRUNERS else "prune", key, default)


def recipe(wc):
    return n2n.config.training_recipe(config, wc.dataset)


def cells(output):
    """The cells of a table's or figure's grid (n2n.outputs)."""
    return n2n.config.grid_cells(config, output.section, output.grid)


def grid_files(output):
    return [f"{c.path(R)}/{output.cell_file}" for c in cells(output)]


def health_cells():
    """Every cell of the claims' grids once: their acc.json hold the health facts (n2n.health)."""
    return list({c.path(R): c for output in CLAIM_GRIDS.values() for c in cells(output)}.values())


def health_files():
    return [f"{c.path(R)}/acc.json" for c in health_cells()]


def grid_summary(output):
    """The cells of a table or figure in words, for its report caption."""
    cs = cells(output)
    seeds = sorted({c.seed for c in cs})
    parts = [("models", [c.model for c in cs]), ("data sets", [c.dataset for c in cs]),
             ("methods", [c.method for c in cs]), ("densities", [c.density for c in cs])]
    words = "; ".join(f"{label} {', '.join(dict.fromkeys(values))}" for label, values in parts)
    return f"{words}; {len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})"


def reported(path, kind):
    """`path` in the report, captioned by report/<kind>.rst, filed under its table's or figure's category and title."""
    return report(path, caption=f"../report/{kind}.rst", category=lambda wc: OUTPUTS[getattr(wc, kind)].category,
                  subcategory=lambda wc: OUTPUTS[getattr(wc, kind)].title)


def keys_of(cs):
    return [dict(model=c.model, dataset=c.dataset, method=c.method, density=float(c.density), seed=c.seed) for c in cs]


def cell_keys(output):
    return keys_of(cells(output))


# Local jobs fork from one warm process that has imported torch once (n2n.stage): a job then
# starts without importing torch again. Cluster jobs run in their own process.
STAGE_SERVER = []


onstart:
    n2n.stop.mark_run()
    if config.get("warm_start", True) and workflow.local_exec:
        STAGE_SERVER.append(n2n.stage.start_server())


onsuccess:
    n2n.stage.stop_server(STAGE_SERVER.pop() if STAGE_SERVER else None)


onerror:
    n2n.stage.stop_server(STAGE_SERVER.pop() if STAGE_SERVER else None)
