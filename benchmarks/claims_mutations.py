"""Each decision in the claims, changed by one line, must fail a test: the claims tests against their mutants.

    .venv/bin/python benchmarks/claims_mutations.py

Copies n2n/ and the claims tests into a temporary folder, applies one mutation at a time (a one-line change to a
decision: the premise's status dropped, claim 2's union left uncorrected, Holm's level after its stop, the
scale factor dropped, the families merged, ...), runs tests/test_claims.py there and prints whether the
tests caught it. A mutant that survives is a decision no test holds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (what it breaks, file, the line as it is, the line as the mutant has it)
MUTANTS = [
    ("the premise's status dropped from the claim rows", "n2n/claims.py",
     "    _attach_premises(rows)\n", "    pass\n"),
    ("the premise's status dropped from the verdict's text", "n2n/claims_report.py",
     '    return (f"**{verdict}**" + (f" · premise {premise}" if isinstance(premise, str) and premise else "")',
     '    return (f"**{verdict}**" + ("")'),
    ("claim 2's union over the parts left uncorrected", "n2n/claim_lines.py",
     '        return {**parts[x], "p_value": adjusted[x], "parts": parts, "decided_at": x, "divisor": len(parts)}',
     '        return {**parts[x], "parts": parts, "decided_at": x, "divisor": len(parts)}'),
    ("Holm's level after its stop taken as if testing went on", "n2n/stats.py",
     "        out[i] = level if stopped is None else stopped", "        out[i] = level"),
    ("a line's interval at the nominal level instead of Holm's", "n2n/claim_lines.py",
     '    _, low, high = interval(test["diffs"], level / test["divisor"])',
     '    _, low, high = interval(test["diffs"])'),
    ("'smaller than' never said", "n2n/claims.py",
     "        return (SMALLER_INTEREST if interest else SMALLER) if short else SUPPORTED",
     "        return SUPPORTED"),
    ("'ruled out' never said", "n2n/claims.py",
     "    if short:\n        return RULED_OUT_INTEREST if interest else RULED_OUT",
     "    if False:\n        return RULED_OUT_INTEREST if interest else RULED_OUT"),
    ("'ruled out' read against the reference's negative", "n2n/claims.py",
     "        versus = Versus(pairs.diffs - reference[0], pairs.all_diffs - reference[0])",
     "        versus = Versus(pairs.diffs + reference[0], pairs.all_diffs + reference[0])"),
    ("a contradicted premise read as not shown", "n2n/claims.py",
     "            CONTRADICTED: NOT_MET}.get(verdict, NOT_SHOWN)", "            }.get(verdict, NOT_SHOWN)"),
    ("P1 paired against X's twins too", "n2n/claims.py",
     '    return method != "dense" and "-" not in method', '    return method != "dense"'),
    ("pairs matched by row position instead of by seed", "n2n/pairing.py",
     '            diffs = (transform(sides[0].loc[seeds, value]) - transform(sides[1].loc[seeds, value])).rename(None)',
     '            diffs = pd.Series(transform(sides[0].loc[seeds, value]).to_numpy() - '
     'transform(sides[1][value]).to_numpy()[: len(seeds)], index=seeds)'),
    ("the ◊ after a line's verdict inverted", "n2n/claims_report.py",
     "                   f\"{f' {HEALTH_MARK}' if r.health_changes_verdict else ''}. {text}.\")",
     "                   f\"{f' {HEALTH_MARK}' if not r.health_changes_verdict else ''}. {text}.\")"),
    ("the scale factor dropped from a recovery claim's reference", "n2n/claims.py",
     "    return aligned, Versus(aligned.diffs - share.share * loss_aligned.diffs,",
     "    return aligned, Versus(aligned.diffs - 1.0 * loss_aligned.diffs,"),
    ("claim 5's loss taken from rp instead of ResSkip", "n2n/claims.py",
     "            + skip_claims(skips, resskip_costs, options))",
     "            + skip_claims(skips, losses, options))"),
    ("the paper's claims and the controls merged into one family", "n2n/claims.py",
     '"Frankle et al. 2021 (predicts no difference)", family="controls"),',
     '"Frankle et al. 2021 (predicts no difference)", family="paper"),'),
    ("a row read at a level other than its line's", "n2n/claims.py",
     "        _, v_low, v_high = interval(versus, level_equivalence)\n        verdict = decide(",
     "        _, v_low, v_high = interval(versus)\n        verdict = decide("),
    ("a seed overlap accepted", "n2n/claims.py",
     "    if overlap:\n        raise SeedOverlap(", "    if False:\n        raise SeedOverlap("),
]


def run(folder: Path) -> bool:
    """True when the claims tests fail in `folder`."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-n", "2",
                             "tests/test_claims.py"], cwd=folder, capture_output=True, text=True)
    return result.returncode != 0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "n2n", folder / "n2n", ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "tests").mkdir()
        for name in ("test_claims.py", "conftest.py"):
            shutil.copy(ROOT / "tests" / name, folder / "tests" / name)
        shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
        if run(folder):
            print("the claims tests fail without any mutation: fix them first")
            return 1
        survivors = 0
        for what, path, line, mutant in MUTANTS:
            original = (folder / path).read_text()
            if original.count(line) != 1:
                print(f"MISSING  {what}: the line is not in {path} once (update this harness)")
                survivors += 1
                continue
            (folder / path).write_text(original.replace(line, mutant))
            caught = run(folder)
            (folder / path).write_text(original)
            survivors += not caught
            print(f"{'caught ' if caught else 'SURVIVED'} {what} ({path})", flush=True)
        print(f"{len(MUTANTS) - survivors} of {len(MUTANTS)} mutants caught")
        return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
