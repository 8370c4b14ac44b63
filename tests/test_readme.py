"""The README's commands work as typed: every line of its bash blocks runs after the quick start,
Snakemake commands in their dry-run form, the others as written where they are cheap."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT

# long runs the README states, never run here (each is tested elsewhere: the workflow tests, CI)
NOT_RUN = {"make demo": "the demo (tests/test_workflow.py runs its pipeline on a tiny grid)",
           "make test": "this suite", "make study": "the study's 90 trainings"}
DRY = ("-n", "--dry-run", "--summary", "--dag", "--rulegraph", "--lint")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def dry_form(command: str) -> str:
    """A Snakemake command with -n unless it plans without running already; others as they are."""
    if "snakemake" in command and not any(f" {flag}" in command for flag in DRY[2:]):
        command = re.sub(r" (-n|--dry-run)\b", "", command)
        return re.sub(r"(\S*snakemake)\b", r"\1 -n", command, count=1)
    return command


def test_the_readme_has_the_quick_start_and_every_command_in_bash_blocks():
    commands = readme_commands()
    assert commands[:2] == [c for c in commands if c.split("#")[0].strip() in ("make demo", "make test")][:2]
    assert all(not c.startswith("snakemake") for c in commands), "name the venv's snakemake: .venv/bin/snakemake"


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "snakemake").exists(), reason="no .venv: run make test")
@pytest.mark.parametrize("command", sorted({dry_form(c) for c in readme_commands()
                                            if c.split("#")[0].strip() not in NOT_RUN}))
def test_a_readme_command_runs_as_typed(command, tmp_path):
    proc = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    assert any(words in proc.stdout + proc.stderr for words in expected_output(command)), \
        f"{command}\n{proc.stdout[-2000:]}"


def expected_output(command: str) -> tuple[str, ...]:
    """What a command prints when it did its work: a dry run its plan, --summary its table, a make target
    or a benchmark its own words."""
    if "snakemake" in command and "--summary" in command:
        return ("output_file",)
    if "snakemake" in command:
        return ("This was a dry-run", "Nothing to be done")
    if command.startswith("make dag"):
        return ("rule graph: results/demo/rulegraph",)
    return ("",)


def test_each_long_command_the_readme_names_is_there_and_plans_as_its_make_target():
    commands = [c.split("#")[0].strip() for c in readme_commands()]
    for command in NOT_RUN:
        assert command in commands, f"NOT_RUN names {command!r}, which the README no longer has"
        proc = subprocess.run(["make", "-n", command.split()[1]], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert ("pytest" if command == "make test" else "snakemake") in proc.stdout, proc.stdout
