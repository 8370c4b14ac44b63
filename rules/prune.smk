# prune -> add_skips: masks of the cell's network at initialisation.


rule prune:
    input:
        data=data_input,
    output:
        cell_file("prune_mask.npz"),
    log:
        cell_file("logs/prune.log"),
    benchmark:
        cell_file("logs/prune.benchmark.tsv")
    params:
        width=lambda wc: n2n.config.model_width(config, wc.model),
        skips=config["skips"],
        data_root=DATA,
        pruning=config["pruning"],
        device=config["device"],
    # learned pruners (scl) train: they take the `prune_learned` resources, threads and GPU included
    threads: lambda wc: prune_res(wc, "threads", 1)
    resources:
        mem_mb=lambda wc: prune_res(wc, "mem_mb"),
        runtime=lambda wc: prune_res(wc, "runtime"),
        gpu=lambda wc: prune_res(wc, "gpu", 0),
    conda:
        ENV
    script:
        "../workflow_scripts/prune.py"


rule add_skips:
    input:
        cell_file("prune_mask.npz"),
    output:
        cell_file("skip_mask.npz"),
    log:
        cell_file("logs/add_skips.log"),
    benchmark:
        cell_file("logs/add_skips.benchmark.tsv")
    threads: res("add_skips", "threads", 1)
    resources:
        mem_mb=res("add_skips", "mem_mb"),
        runtime=res("add_skips", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/add_skips.py"
