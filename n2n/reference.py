"""The paper's published numbers, shipped with the package (n2n/reference/*.csv)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

REFERENCES = {"table1": "paper_table1.csv", "table2": "paper_table2.csv", "table3": "paper_table3.csv",
              "skip_comparison": "paper_fig6_approx.csv",
              "pruners": "paper_table1.csv"}  # the paper has rp and csp (with N2NSkip) of Table 1


def load_reference(name: str) -> pd.DataFrame:
    """The paper's values for `name` (table1, table2, table3, skip_comparison, pruners)."""
    with resources.files("n2n").joinpath("reference", REFERENCES[name]).open() as fh:
        return pd.read_csv(fh)
