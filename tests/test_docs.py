"""The README and every page of docs/ hold true to the code: every shell line runs as typed (Snakemake
commands in their dry-run form, the others as written where they are cheap), every job and training
count they state is what `snakemake -n` plans, and every config key of the schema is documented."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from n2n.registry import DATASETS, SYSTEM_DATA_ENV

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# commands too long or too demanding to run here, each with the reason (each is tested elsewhere)
NOT_RUN = {"make demo": "the demo (tests/test_workflow.py runs its pipeline on a tiny grid)",
           "make test": "this suite", "make study": "the study's 80 trainings",
           "make study-sparse": "the sparse study's 30 trainings",
           "make report": "needs make demo's results (tests/test_workflow.py builds a report)",
           "make publish-demo": "rewrites the pages' result blocks (test_publish_... runs it on a copy)",
           "make publish-study": "rewrites the pages' result blocks (test_publish_... runs it on a copy)",
           "make publish-study-sparse": "rewrites the pages' result blocks (test_publish_... runs it on a copy)",
           ".venv/bin/snakemake all_tables --configfile config/demo.yaml --report results/demo/report.html":
               "needs make demo's results (tests/test_workflow.py builds a report)",
           ".venv/bin/python -m n2n selftest --device cuda": "needs a GPU (tests/test_gpu_path.py runs the CPU side)",
           ".venv/bin/python -m n2n prepare-imagenet --archives /path/to/archives --out data/imagenet":
               "needs ImageNet's archives (tests/test_imagenet.py runs it on generated ones)",
           ".venv/bin/python -m n2n connectivity --model resnet50 --pruner n2nskip-rp --density 0.02 --seed 0":
               "full-size ResNet50's graph, minutes (tests/test_connectivity_cli.py runs it small)",
           ".venv/bin/python benchmarks/train_throughput.py": "a benchmark, minutes",
           ".venv/bin/python benchmarks/scree_full_size.py --out benchmarks/results/scree-full-size.md":
               "a benchmark, 14 minutes and 5.5 GB",
           ".venv/bin/python benchmarks/heat_signature.py": "a benchmark, minutes",
           ".venv/bin/python benchmarks/connectivity_at_init.py": "a benchmark, minutes",
           ".venv/bin/python benchmarks/job_startup.py --out benchmarks/results/job-startup.md": "a benchmark, minutes",
           ".venv/bin/python benchmarks/study_speed.py": "a benchmark, 5 minutes",
           ".venv/bin/python benchmarks/channel_sparse.py --cell --out benchmarks/results/channel-sparse.md":
               "a benchmark, 15 minutes",
           ".venv/bin/python benchmarks/study_speed.py --out benchmarks/results/study-speed.md": "a benchmark, 5 minutes",
           ".venv/bin/python benchmarks/claims_mutations.py": "the claims tests once per mutant, minutes",
           ".venv/bin/python benchmarks/fresh_clone.py --without-slurm --out benchmarks/results/fresh-clone.md":
               "a fresh clone's make demo and make test, 15 minutes"}
DRY = ("-n", "--dry-run", "--summary", "--dag", "--rulegraph", "--lint")
PROGRAMS = (".venv/bin/snakemake ", ".venv/bin/python ", "make ")


def shell_lines(text: str) -> list[str]:
    """Lines of the bash blocks (continuations joined, comments dropped), then inline code that starts with
    one of the project's programs."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    for code in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if code.startswith(PROGRAMS) and code.strip() not in (p.strip() for p in PROGRAMS):
            commands.append(code.strip())
    return commands


def doc_commands() -> list[str]:
    return list(dict.fromkeys(c for page in PAGES for c in shell_lines(page.read_text())))


def readme_commands() -> list[str]:
    return shell_lines((ROOT / "README.md").read_text())


def dry_form(command: str) -> str:
    """A Snakemake command with -n unless it plans without running already; others as they are."""
    if "snakemake" in command and not any(f" {flag}" in command for flag in DRY[2:]):
        command = re.sub(r" (-n|--dry-run)\b", "", command)
        return re.sub(r"(\S*snakemake)\b", r"\1 -n", command, count=1)
    return command


def test_the_readme_opens_with_the_quick_start_and_names_the_venvs_programs():
    assert readme_commands()[:2] == ["make demo", "make test"]
    for page in PAGES:
        for code in re.findall(r"`(snakemake [^`]*)`", page.read_text()):
            assert False, f"{page.name}: `{code}`: name the venv's snakemake (.venv/bin/snakemake)"


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "snakemake").exists(), reason="no .venv: run make test")
@pytest.mark.parametrize("command", sorted({dry_form(c) for c in doc_commands() if c not in NOT_RUN}))
def test_a_documented_command_runs_as_typed(command, tmp_path):
    proc = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    assert any(words in proc.stdout + proc.stderr for words in expected_output(command)), \
        f"{command}\n{proc.stdout[-2000:]}"


def expected_output(command: str) -> tuple[str, ...]:
    """What a command prints when it did its work: a dry run its plan, --summary its table, --lint its
    verdict, make dag where it wrote."""
    if "snakemake" in command and "--summary" in command:
        return ("output_file",)
    if "snakemake" in command and "--lint" in command:
        return ("Congratulations, your workflow is in a good condition",)
    if "snakemake" in command and ("--dag" in command or "--rulegraph" in command):
        return ("digraph", "flowchart")
    if "snakemake" in command:
        return ("This was a dry-run", "Nothing to be done")
    if command.startswith("make dag"):
        return ("rule graph: results/demo/rulegraph",)
    return ("",)


def test_each_command_left_out_is_documented_and_each_make_target_plans():
    commands = doc_commands()
    for command in NOT_RUN:
        assert command in commands, f"NOT_RUN names {command!r}, which no page has any more"
        if command.startswith("make "):
            proc = subprocess.run(["make", "-n", command.split()[1]], cwd=ROOT, capture_output=True, text=True,
                                  timeout=60)
            assert proc.returncode == 0, proc.stderr
            does = {"make test": "pytest", "make publish-demo": "n2n claims", "make publish-study": "n2n claims",
                    "make publish-study-sparse": "n2n claims"}
            assert does.get(command, "snakemake") in proc.stdout, proc.stdout


# counts the pages state, and the plan that gives them: (page, pattern with the number as its group, what
# it counts, the targets and config files of `snakemake -n`, and whether the study's data is installed)


def make_targets(study: str) -> str:
    """The Snakemake targets the Makefile's `make study`/`make study-sparse` asks for (`$(call TIMED,<study>) ...`)."""
    found = re.search(rf"\$\(call TIMED,{study}\) ([^-]+) --cores", (ROOT / "Makefile").read_text())
    assert found, f"the Makefile has no timed run of {study}"
    return found.group(1).strip()


DEMO = ("all_tables", "config/demo.yaml", False)
STUDY = (make_targets("study"), "config/demo.yaml config/study.yaml", False)
SPARSE = (make_targets("sparse"), "config/demo.yaml config/study.yaml config/sparse.yaml", False)
STUDY_INSTALLED = (*STUDY[:2], True)
SPARSE_INSTALLED = (*SPARSE[:2], True)
PAPER = ("all_tables", "", False)  # the paper grid: that it plans at all is checked here too
WHERE_INSTALLED = r"plans [\d,]+ jobs, [\d,]+ trainings, on a machine without the data \([^;]*; ([\d,]+) where"
COUNTS = [
    ("README.md", r"the demo's pipeline [^,]*, ([\d,]+) jobs", "total", DEMO),
    ("README.md", r"`make study` plans ([\d,]+) jobs", "total", STUDY),
    ("README.md", r"`make study` " + WHERE_INSTALLED, "total", STUDY_INSTALLED),
    ("docs/study-fashion.md", r"`make study` " + WHERE_INSTALLED, "total", STUDY_INSTALLED),
    ("README.md", r"`make study-sparse` plans [\d,]+ jobs, [\d,]+ trainings, on a machine without the data \(([\d,]+) where",
     "total", SPARSE_INSTALLED),
    ("docs/study-sparse.md", r"`make study-sparse` " + WHERE_INSTALLED, "total", SPARSE_INSTALLED),
    ("README.md", r"`make study` plans [\d,]+ jobs, ([\d,]+) trainings", "train", STUDY),
    ("docs/study-fashion.md", r"`make study` plans ([\d,]+) jobs", "total", STUDY),
    ("docs/study-fashion.md", r"`make study` plans [\d,]+ jobs, ([\d,]+) trainings", "train", STUDY),
    ("README.md", r"`make study-sparse` plans ([\d,]+) jobs", "total", SPARSE),
    ("README.md", r"`make study-sparse` plans [\d,]+ jobs, ([\d,]+) trainings", "train", SPARSE),
    ("docs/study-sparse.md", r"`make study-sparse` plans ([\d,]+) jobs", "total", SPARSE),
    ("docs/study-sparse.md", r"`make study-sparse` plans [\d,]+ jobs, ([\d,]+) trainings", "train", SPARSE),
    ("docs/speed.md", r"the paper grid's ([\d,]+) jobs", "total", PAPER),
    ("docs/speed.md", r"the demo's ([\d,]+) jobs", "total", DEMO),
]


def planned(targets: str, configs: str, installed: bool, data_root: Path) -> dict[str, int]:
    """Snakemake's job stats for the targets under the config files, every job planned (--forceall). Debian's
    Fashion-MNIST, installed on this machine or not, never changes a count: its system folder is hidden
    (N2N_SYSTEM_DATA=off), as on a new machine, or, `installed`, moved to a folder that holds its files."""
    command = [str(ROOT / ".venv" / "bin" / "snakemake"), "-n", "--forceall", *targets.split()]
    if configs:
        command += ["--configfile", *configs.split()]
    command += ["--quiet", "rules"]  # the job stats table without a paragraph per job
    system = "off"
    if installed:  # the files where Debian's package puts them, under another root
        system = str(data_root)
        record = DATASETS["fashion_mnist"]
        for folder in record.system_folders:
            (data_root / folder).mkdir(parents=True, exist_ok=True)
            for entry in record.required:
                (data_root / folder / entry).touch()  # a plan checks that the files are there; it reads none
    env = {**os.environ, SYSTEM_DATA_ENV: system}
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, flags=re.M)}


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "snakemake").exists(), reason="no .venv: run make test")
@pytest.mark.parametrize("plan", sorted({c[3] for c in COUNTS}))
def test_every_count_a_page_states_is_what_snakemake_plans(plan, tmp_path):
    stats = planned(*plan, tmp_path)
    for page, pattern, what, of in COUNTS:
        if of != plan:
            continue
        found = re.search(pattern, re.sub(r"\s+", " ", (ROOT / page).read_text()))
        assert found, f"{page} no longer states a count matching {pattern!r}"
        state = "the data installed" if plan[2] else "as on a new machine"
        assert int(found.group(1).replace(",", "")) == stats[what], \
            f"{page}: {found.group(0)!r}, but `snakemake -n --forceall {plan[0]}` plans {stats[what]} ({what}, {state})"


def test_every_generated_block_is_what_the_code_gives():
    from n2n import docgen

    assert docgen.stale() == [], "run `.venv/bin/python -m n2n docs` and commit the pages it rewrites"


def copy_of_the_sources(tmp_path: Path) -> Path:
    """What n2n.docgen reads, copied: n2n/, rules/, the pages, the Snakefile and config.yaml."""
    import shutil

    root = tmp_path / "checkout"
    for folder in ("n2n", "rules", "docs"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    for name in ("README.md", "Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, root / name)
    return root


def test_a_module_a_config_key_or_a_rules_threads_changed_without_the_docs_is_caught(tmp_path):
    from n2n import docgen

    root = copy_of_the_sources(tmp_path)
    assert docgen.stale(root) == []
    (root / "n2n" / "newmodule.py").write_text('"""A module added without a line in docs/package.md."""\n')
    assert docgen.stale(root) == ["docs/package.md"]
    (root / "n2n" / "newmodule.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="n2n/newmodule.py has no docstring"):
        docgen.stale(root)
    (root / "n2n" / "newmodule.py").unlink()

    schema = root / "n2n" / "schemas" / "config.schema.yaml"
    original = schema.read_text()
    schema.write_text(original.replace("  device: {enum: [auto, cpu, cuda],",
                                       "  new_key: {type: boolean, description: \"a key added\"}\n"
                                       "  device: {enum: [auto, cpu, cuda],"))
    assert docgen.stale(root) == ["docs/configuration.md"]
    schema.write_text(original.replace("  device: {enum: [auto, cpu, cuda],",
                                       "  new_key: {type: boolean}\n  device: {enum: [auto, cpu, cuda],"))
    with pytest.raises(ValueError, match="`new_key` has no description"):
        docgen.stale(root)
    schema.write_text(original)

    train = root / "rules" / "train.smk"
    text = train.read_text()
    assert 'threads: lambda wc: train_res(wc, "threads", 1)' in text
    train.write_text(text.replace('threads: lambda wc: train_res(wc, "threads", 1)', "threads: 2"))
    assert docgen.stale(root) == ["docs/configuration.md"]
    assert "| `train` | 2 (fixed) |" in docgen.rules_table(root)
    train.write_text(text)
    assert docgen.stale(root) == []


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "snakemake").exists(), reason="no .venv: run make test")
def test_the_generated_targets_are_snakemakes_own():
    from n2n import docgen

    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "snakemake"), "--list-target-rules"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = set(proc.stdout.split()) - {"imagenet_missing"}  # the rule that says ImageNet must be placed by hand
    assert {name for name, _ in docgen.target_names()} == listed


# sizes of tests that a page states: (page, pattern with the number as its group, test file, its constant)
TEST_SIZES = [
    ("docs/speed.md", r"`tests/test_scheduler.py` holds it on (\d+) jobs", "tests/test_scheduler.py", r"^JOBS = (\d+)"),
    ("docs/tests.md", r"at least (\d+) of (?:10|ten) kills", "tests/test_faults.py", r"assert sum\(landed\) >= (\d+)"),
]


@pytest.mark.parametrize("page, pattern, test_file, constant", TEST_SIZES)
def test_a_tests_size_a_page_states_is_the_tests_own(page, pattern, test_file, constant):
    stated = re.search(pattern, re.sub(r"\s+", " ", (ROOT / page).read_text()))
    assert stated, f"{page} no longer states {pattern!r}"
    actual = re.search(constant, (ROOT / test_file).read_text(), flags=re.M)
    assert actual, f"{test_file} no longer has {constant!r}"
    assert stated.group(1) == actual.group(1), f"{page} says {stated.group(0)!r}; {test_file} has {actual.group(0)!r}"


def test_publish_regenerates_a_pages_result_blocks_from_a_run_and_says_where_they_came_from(tmp_path):
    from n2n.publish import publish

    tables = tmp_path / "results" / "demo" / "tables"
    tables.mkdir(parents=True)
    (tables / "table1.md").write_text("## Table 1\n\nmean ± std\n\n| model | method |\n|---|---|\n| vgg19 | rp |\n\nafter\n")
    (tables / "claims.md").write_text("## The claims, in one line each\n\nintro\n\n1. first: **supported**.\n"
                                      "2. second: **not run**.\n\n## The claims, row by row\n\ntext\n\n"
                                      "| claim | verdict |\n|---|---|\n| 1 | **supported** |\n")
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- BEGIN results/demo table1 -->\nold\n<!-- END results/demo table1 -->\nmiddle\n"
                    "<!-- BEGIN results/demo claims -->\n<!-- END results/demo claims -->\n"
                    "<!-- BEGIN results/demo claims-rows -->\nold\n<!-- END results/demo claims-rows -->\n"
                    "<!-- BEGIN results/study table1 -->\nkept\n<!-- END results/study table1 -->\n")
    assert publish([str(page)], "results/demo", root=str(tmp_path)) == [str(page)]
    text = page.read_text()
    assert "| model | method |\n|---|---|\n| vgg19 | rp |\n<!-- END results/demo table1 -->" in text
    assert "old" not in text and "after" not in text and "kept" in text
    assert "1. first: **supported**.\n2. second: **not run**.\n<!-- END results/demo claims -->" in text
    assert "| 1 | **supported** |\n<!-- END results/demo claims-rows -->" in text
    assert re.search(r"\*From `results/demo`: commit \S+.*, \d+ cores, \d{4}-\d\d-\d\d\.\*", text)
    assert publish([str(page)], "results/demo", root=str(tmp_path)) == []  # nothing new: the page stays
    for seed, accuracy in ((1, 91.25), (0, 90.5)):
        cell = tmp_path / "results" / "demo" / "vgg19" / "digits" / "rp" / "0.1" / f"seed{seed}"
        cell.mkdir(parents=True)
        (cell / "acc.json").write_text(json.dumps(dict(model="vgg19", method="rp", seed=seed, test_accuracy=accuracy,
                                                       cut_apart=seed == 1)))
    page.write_text("<!-- BEGIN results/demo cells -->\n<!-- END results/demo cells -->\n")
    publish([str(page)], "results/demo", root=str(tmp_path))
    assert "| vgg19 | rp | 0.1 | s0 90.50; s1 91.25 (cut apart) |" in page.read_text()
    page.write_text("<!-- BEGIN results/demo table9 -->\n<!-- END results/demo table9 -->\n")
    with pytest.raises(FileNotFoundError, match="table9"):
        publish([str(page)], "results/demo", root=str(tmp_path))


def test_every_studys_blocks_and_claims_page_are_what_its_cells_file_gives():
    """A study's premises, claims and cells in the pages are recomputed from studies/<study>/cells.parquet, the
    file the repository keeps: a page or a claims.md that no longer matches it fails here."""
    from n2n.claims_report import claims_page
    from n2n.io import read_parquet
    from n2n.publish import MARKER, study_block_text

    studies = sorted(p.parent for p in (ROOT / "studies").glob("*/cells.parquet"))
    assert {s.name for s in studies} >= {"demo", "study", "sparse"}
    seen = set()
    for page in PAGES:
        for match in MARKER.finditer(page.read_text()):
            folder = match.group(2)
            if folder.startswith(("studies/", "benchmarks/")):
                expected = study_block_text(ROOT / folder, ROOT.joinpath(folder).relative_to(ROOT), match.group(3))
                assert match.group(4) == expected, f"{page.name}: the {folder} {match.group(3)} block is stale " \
                                                   "(its make publish-... target or script)"
                seen.add(folder)
    assert seen >= {f"studies/{s.name}" for s in studies}, "a study's cells file that no page publishes"
    for study in studies:
        cells = read_parquet(study / "cells.parquet")
        assert (study / "claims.md").read_text() == claims_page(cells)[1]
        assert {"commit", "cpu", "date"} <= set(cells.columns) and cells["commit"].notna().all()


def test_the_claims_page_gives_every_verdict_and_premise_status_in_the_codes_words():
    from n2n.claims import PREMISE_STATUS, VERDICTS

    text = (ROOT / "docs" / "claims.md").read_text()
    for word, meaning in {**VERDICTS, **PREMISE_STATUS}.items():
        assert f"| {word} | {meaning} |" in text, f"docs/claims.md: the row for {word!r} differs from n2n/claims.py"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_and_anchor_between_the_pages_resolves():
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)}
                if anchor not in anchors:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


CONFIGS = sorted((ROOT / "config").glob("*.yaml")) + [ROOT / "config.yaml"]


def test_a_learning_rate_schedule_in_words_is_what_the_recipe_computes():
    """`lr_at` multiplies the rate by lr_gamma every lr_step_epochs: a page or config that says "divided by", or
    names a factor no config has, is wrong."""
    from n2n.training import Recipe

    recipe = Recipe(epochs=6, batch_size=1, lr=0.05, lr_step_epochs=2, lr_gamma=0.3, momentum=0, weight_decay=0,
                    eval_batch_size=1)
    assert recipe.lr_at(2) == pytest.approx(0.05 * 0.3)  # the words below describe this
    gammas = {yaml.safe_load(p.read_text()).get("training", {}).get("lr_gamma") for p in CONFIGS} - {None}
    wrong = []
    for path in [*PAGES, *CONFIGS]:
        for verb, factor in re.findall(r"\blr\b[^;\n]{0,40}?\b(divided|multiplied) by (\d+(?:\.\d+)?)", path.read_text()):
            if verb != "multiplied" or float(factor) not in gammas:
                wrong.append(f"{path.name}: lr {verb} by {factor}")
    assert wrong == [], f"lr_gamma multiplies, and the configs' factors are {sorted(gammas)}"


def test_a_configs_methods_named_in_a_page_are_its_grid():
    """A sentence "`config/X.yaml` runs ..." names exactly the plain pruners of that config's Table 1 grid."""
    from n2n.registry import split_method

    checked = 0
    for page in PAGES:
        text = re.sub(r"\s+", " ", page.read_text())
        for name, sentence in re.findall(r"`config/([\w-]+)\.yaml` runs ([^.]*)\.", text):
            grid = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())["tables"]["table1"]["methods"]
            methods = grid if isinstance(grid, list) else [m for ms in grid.values() for m in ms]
            plain = {split_method(m)[1].removesuffix("_shuffled") for m in methods if m != "dense"}
            named = set(re.findall(r"\b(rp|rp_weights|csp|scl|grasp|synflow|mag|erk)\b", sentence))
            assert named == plain, f"{page.name}: `config/{name}.yaml` runs {sorted(plain)}, the page names {sorted(named)}"
            assert ("dense" in sentence) == ("dense" in methods), f"{page.name}: {name}'s dense network"
            checked += 1
    assert checked >= 1


def stated_design_powers(numbers: str) -> list[tuple[str, list[float], float]]:
    """(page, the numbers it gives, the effect it says 5 paired seeds detect) for each sentence of the pages
    "<numbers> give [5 paired seeds 80 % power at α = 0.05 to detect] <effect> points"; `numbers` is the
    pattern of what leads the list ("seeds", "pilot's paired differences")."""
    found = []
    for page in PAGES:
        text = re.sub(r"\s+", " ", page.read_text())
        for values, effect in re.findall(rf"{numbers} ((?:-?\d+\.\d+, )+-?\d+\.\d+) give (?:5 paired seeds 80 % "
                                         r"power at α = 0.05 to detect )?([\d.]+) points", text):
            found.append((page.name, [float(v) for v in values.split(", ")], float(effect)))
    return found


def test_a_design_power_a_page_states_is_what_its_dense_seeds_give():
    import math
    import statistics

    from n2n.stats import smallest_detectable_effect

    found = stated_design_powers("seeds")
    for page, values, effect in found:
        assert smallest_detectable_effect(math.sqrt(2) * statistics.stdev(values), 5) == pytest.approx(
            effect, abs=0.005), f"{page}: seeds {values} give another design power than {effect}"
    assert len(found) >= 3


def test_a_design_power_a_page_states_from_a_pilots_pruned_pairs_is_what_they_give():
    from n2n.stats import pilot_design_effect

    found = stated_design_powers("pilot's paired differences")
    for page, values, effect in found:
        assert pilot_design_effect(values, 5)[2] == pytest.approx(effect, abs=0.005), \
            f"{page}: the pilot's differences {values} give another design power than {effect}"
    assert len(found) >= 1


MATMUL_RATE = re.compile(r"matmul\b[^.]*?\b(\d+(?:\.\d+)?) GFLOP/s(?: on (?:one|1) thread)?"
                         r"(?:(?:,| and) (\d+(?:\.\d+)?) on (?:two|\d+))?")


def prose_and_blocks(text: str) -> tuple[list[str], list[str]]:
    """A page's prose paragraphs outside its publish blocks, less the sections whose heading ends in
    ": a record" (they keep an earlier run's facts as they were), and its publish blocks' texts."""
    from n2n.publish import MARKER

    prose, record = [], False
    for paragraph in re.split(r"\n\s*\n", MARKER.sub("", text)):
        if paragraph.startswith("#"):
            record = paragraph.splitlines()[0].rstrip().endswith(": a record")
        if not record:
            prose.append(paragraph)
    return prose, [block.group(4) for block in MARKER.finditer(text)]


def unbacked_rates(text: str) -> list[str]:
    """The machine rates a page states in prose that none of its publish blocks states (rounded to GFLOP/s).
    A section whose heading ends in ": a record" keeps an earlier run's facts as they were."""
    def rates(part: str) -> list[int]:
        return [round(float(x)) for pair in MATMUL_RATE.findall(re.sub(r"\s+", " ", part)) for x in pair if x]

    prose, blocks = prose_and_blocks(text)
    backed = {rate for block in blocks for rate in rates(block)}
    return [f"fp32 matmul {rate} GFLOP/s" for paragraph in prose for rate in rates(paragraph) if rate not in backed]


def test_a_machine_rate_a_page_states_is_one_its_publish_blocks_state():
    block = "<!-- BEGIN studies/x run -->\nThe machine's fp32 matmul ran at 91 GFLOP/s on 1 thread and 178 on 2 threads.\n" \
            "<!-- END studies/x run -->\n"
    assert unbacked_rates(block + "\nOn a VM whose fp32 matmul runs at 91 GFLOP/s on one thread and 178 on two.\n") == []
    assert unbacked_rates(block + "\nOn a VM whose fp32\nmatmul runs at 95 GFLOP/s on one thread and 178 on two.\n") == [
        "fp32 matmul 95 GFLOP/s"]
    assert unbacked_rates(block + "\n### The first run: a record\n\nfp32 matmul 95 GFLOP/s.\n\n## Next\n\n"
                          "fp32 matmul 96 GFLOP/s\n") == ["fp32 matmul 96 GFLOP/s"]
    wrong = {page.name: rates for page in PAGES if (rates := unbacked_rates(page.read_text()))}
    assert wrong == {}, "a rate in prose must be one its page's publish blocks state (or sit in a record's section)"


DURATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:(?:-|–| to )(\d+(?:\.\d+)?))? ?(?:s|min|minutes|hours?|seconds)\b")
# durations in prose that are settings or targets, not measurements: what no run changes
SETTINGS = {"5 min": "the SLURM profile's --signal lead (docs/cluster.md)",
            "30 minutes": "the heat_signature job's runtime resource",
            "1s": "Snakemake's --max-jobs-per-timespan default", "0.1 s": "a benchmark's sampling interval",
            "90 minutes": "make study's time target", "120 minutes": "make study-sparse's time target"}


def unbacked_durations(text: str) -> list[str]:
    """The durations a page states in prose that none of its publish blocks states and that are no setting:
    a measured time lives in a block generated with its run (or in a section whose heading ends ": a record")."""
    prose, blocks = prose_and_blocks(text)
    backed = " ".join(re.sub(r"\s+", " ", block) for block in blocks)
    return [m.group(0) for paragraph in prose for m in DURATION.finditer(re.sub(r"\s+", " ", paragraph))
            if m.group(0) not in SETTINGS and m.group(0) not in backed]


def test_a_time_a_page_states_is_a_setting_or_one_its_publish_blocks_state():
    block = "<!-- BEGIN studies/x run -->\nA training took 73-137 s; the run 89 min 40 s.\n<!-- END studies/x run -->\n"
    assert unbacked_durations(block + "\nA training took 73-137 s within the study's 90 minutes.\n") == []
    assert unbacked_durations(block + "\nA training took\n74-137 s, the run about 90 min.\n") == ["74-137 s", "90 min"]
    assert unbacked_durations(block + "\n### The first run: a record\n\nIt took 14 s.\n\n## Next\n\nIt took 15 s.\n") == [
        "15 s"]
    wrong = {page.name: times for page in PAGES if (times := unbacked_durations(page.read_text()))}
    assert wrong == {}, "a measured time in prose must be one its page's publish blocks state (or sit in a record)"
