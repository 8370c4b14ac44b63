# aggregate: the paper's tables (parquet + Markdown) and figures (PNG + PDF).
TABLES = {
    "table1": ("tables", "table1", "acc.json"),
    "table2": ("tables", "table2", "acc.json"),
    "table3": ("tables", "table3", "heat_distance.parquet"),
    "pruners": ("tables", "pruners", "acc.json"),
}
FIGURES = {
    "convergence": ("figures", "convergence", "metrics.parquet"),
    "skip_comparison": ("figures", "skip_comparison", "acc.json"),
    "heat_signature": ("tables", "table3", "heat_distance.parquet"),
    "heat_layers": ("tables", "table3", "heat_layers.parquet"),
    "scree": ("tables", "table3", "scree.parquet"),
    "pruner_comparison": ("tables", "pruners", "acc.json"),
    "layer_densities": ("tables", "pruners", "acc.json"),
}


# tables and figures read many small files and take seconds: on a cluster they run where
# Snakemake runs instead of waiting in the queue
localrules:
    all_tables,
    table,
    figure,


rule all_tables:
    input:
        expand(in_tables("{table}.{ext}"), table=TABLES, ext=("parquet", "md")),
        expand(in_figures("{figure}.{ext}"), figure=FIGURES, ext=("png", "pdf")),
    default_target: True


rule table:
    input:
        lambda wc: cell_files(*TABLES[wc.table]),
    output:
        parquet=in_tables("{table}.parquet"),
        markdown=in_tables("{table}.md"),
    wildcard_constraints:
        table="|".join(TABLES),
    log:
        in_tables("logs/{table}.log"),
    benchmark:
        in_tables("logs/{table}.benchmark.tsv")
    params:
        cells=lambda wc: cell_keys(*TABLES[wc.table][:2]),
        t_sat=config["connectivity"]["t_sat"],
    threads: 1
    resources:
        mem_mb=res("aggregate", "mem_mb"),
        runtime=res("aggregate", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/table.py"


rule figure:
    input:
        lambda wc: cell_files(*FIGURES[wc.figure]),
    output:
        png=in_figures("{figure}.png"),
        pdf=in_figures("{figure}.pdf"),
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        in_figures("logs/{figure}.log"),
    benchmark:
        in_figures("logs/{figure}.benchmark.tsv")
    params:
        cells=lambda wc: cell_keys(*FIGURES[wc.figure][:2]),
        t_sat=config["connectivity"]["t_sat"],
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
