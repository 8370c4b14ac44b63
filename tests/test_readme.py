"""The README's commands work as typed: every line of its bash blocks runs after the quick start,
Snakemake commands in their dry-run form, the others as written where they are cheap."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT

# long runs the README states, never run here (each is tested elsewhere: the workflow tests, CI)
NOT_RUN = {"make demo": "the demo (tests/test_workflow.py runs its pipeline on a tiny grid)",
           "make test": "this suite", "make study": "the 60-training study",
           "make report": "the demo's report (tests/test_workflow.py builds one)"}
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
