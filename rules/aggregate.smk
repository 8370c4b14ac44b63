# aggregate: the paper's tables (parquet + Markdown) and figures (PNG + PDF).
TABLES = {
    "table1": ("tables", "table1", "acc.json"),
    "table2": ("tables", "table2", "acc.json"),
    "table3": ("tables", "table3", "heat_distance.parquet"),
    "pruners": ("tables", "pruners", "acc.json"),
}
# what the report says of each table and figure: title, category, the paper's counterpart
REPORT = {
    "table1": ("Table 1: test accuracy (%)", "Accuracy", "the paper's Table 1 (CIFAR-10/100)"),
    "table2": ("Table 2: ImageNet top-1 accuracy (%)", "Accuracy", "the paper's Table 2 (ImageNet)"),
    "table3": ("Table 3: connectivity distance F to the dense network", "Connectivity", "the paper's Table 3, at t_sat"),
    "pruners": ("Every pruner with and without N2NSkip", "Pruners", "no paper value: an extension of Table 1"),
    "convergence": ("Test accuracy per epoch, mean and sd over seeds", "Convergence",
                    "The paper's convergence figure: ResNet50, CIFAR-10, density 0.05, 300 epochs."),
    "skip_comparison": ("Test error against density, N2NSkip against ResSkip", "Accuracy",
                        "Crosses: the paper's Figure 6, read off the figure (approximate)."),
    "heat_signature": ("F(t) against the dense network, per method", "Connectivity",
                       "The paper reports F at saturation only (Table 3); every t is plotted here."),
    "heat_layers": ("Mean heat per layer at t_sat", "Connectivity", "No paper counterpart."),
    "scree": ("Scree curves alpha(K, t_sat)", "Connectivity", "The paper's Figure 4."),
    "pruner_comparison": ("Accuracy of every pruner without and with N2NSkip", "Pruners", "No paper counterpart."),
    "layer_densities": ("Kept fraction of every layer, per method", "Pruners", "No paper counterpart."),
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
    config_used,
    table,
    figure,


rule all_tables:
    input:
        expand(in_tables("{table}.{ext}"), table=TABLES, ext=("parquet", "md")),
        expand(in_figures("{figure}.{ext}"), figure=FIGURES, ext=("png", "pdf")),
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
        lambda wc: cell_files(*TABLES[wc.table]),
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
        cells=lambda wc: cell_keys(*TABLES[wc.table][:2]),
        t_sat=config["connectivity"]["t_sat"],
        title=lambda wc: REPORT[wc.table][0],
        summary=lambda wc: grid_summary(*TABLES[wc.table][:2]),
        paper=lambda wc: REPORT[wc.table][2],
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
        png=reported(in_figures("{figure}.png"), "figure"),
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
        title=lambda wc: REPORT[wc.figure][0],
        summary=lambda wc: grid_summary(*FIGURES[wc.figure][:2]),
        paper=lambda wc: REPORT[wc.figure][2],
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
