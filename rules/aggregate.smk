# aggregate: the paper's tables (parquet + Markdown) and figures (PNG + PDF).
from n2n.outputs import CLAIM_GRIDS, FIGURES, OUTPUTS, TABLES  # each output's grid, cell file and titles

# tables and figures read many small files and take seconds: on a cluster they run where
# Snakemake runs instead of waiting in the queue
localrules:
    all_tables,
    config_used,
    table,
    figure,
    claims,


rule all_tables:
    input:
        expand(in_tables("{table}.{ext}"), table=TABLES, ext=("parquet", "md")),
        expand(in_figures("{figure}.{ext}"), figure=FIGURES, ext=("png", "pdf")),
        in_tables("claims.parquet"),
        in_results("config_used.yaml"),
    default_target: True


rule config_used:
    output:
        report(in_results("config_used.yaml"), caption="../report/config.rst", category="Configuration"),
    log:
        in_results("logs/config_used.log"),
    benchmark:
        in_results("logs/config_used.benchmark.tsv")
    params:
        config=config,
    threads: 1
    conda:
        ENV
    script:
        "../workflow_scripts/config_used.py"


rule table:
    input:
        lambda wc: grid_files(TABLES[wc.table]),
    output:
        parquet=reported(in_tables("{table}.parquet"), "table"),
        markdown=reported(in_tables("{table}.md"), "table"),
    wildcard_constraints:
        table="|".join(TABLES),
    log:
        in_tables("logs/{table}.log"),
    benchmark:
        in_tables("logs/{table}.benchmark.tsv")
    params:
        cells=lambda wc: cell_keys(TABLES[wc.table]),
        t_sat=config["connectivity"]["t_sat"],
        title=lambda wc: TABLES[wc.table].title,
        summary=lambda wc: grid_summary(TABLES[wc.table]),
        paper=lambda wc: TABLES[wc.table].paper,
        health=config.get("health", {}),
    threads: 1
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/table.py"


rule claims:
    input:
        unpack(lambda wc: {name: grid_files(output) for name, output in CLAIM_GRIDS.items()}),
        health=lambda wc: health_files(),
    output:
        cells=in_tables("cells.parquet"),
        parquet=report(in_tables("claims.parquet"), caption="../report/claims.rst", category="Claims"),
        markdown=report(in_tables("claims.md"), caption="../report/claims.rst", category="Claims"),
    log:
        in_tables("logs/claims.log"),
    benchmark:
        in_tables("logs/claims.benchmark.tsv")
    params:
        cells={**{name: cell_keys(output) for name, output in CLAIM_GRIDS.items()}, "health": keys_of(health_cells())},
        t_sat=config["connectivity"]["t_sat"],
        options=config.get("claims", {}),
        health=config.get("health", {}),
    threads: 1
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/claims.py"


rule figure:
    input:
        lambda wc: grid_files(FIGURES[wc.figure]),
    output:
        png=reported(in_figures("{figure}.png"), "figure"),
        pdf=in_figures("{figure}.pdf"),
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        in_figures("logs/{figure}.log"),
    benchmark:
        in_figures("logs/{figure}.benchmark.tsv")
    params:
        cells=lambda wc: cell_keys(FIGURES[wc.figure]),
        t_sat=config["connectivity"]["t_sat"],
        title=lambda wc: FIGURES[wc.figure].title,
        summary=lambda wc: grid_summary(FIGURES[wc.figure]),
        paper=lambda wc: FIGURES[wc.figure].paper,
    threads: 1
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/figure.py"


for _name in TABLES:

    rule:
        name:
            _name if _name.startswith("table") else f"table_{_name}"
        input:
            expand(in_tables("{table}.{ext}"), table=_name, ext=("parquet", "md")),


for _name in FIGURES:

    rule:
        name:
            f"figure_{_name}"
        input:
            expand(in_figures("{figure}.{ext}"), figure=_name, ext=("png", "pdf")),
