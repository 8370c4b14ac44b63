# adjacency -> heat_signature: the channel graph of the trained network and its heat diffusion.


rule adjacency:
    input:
        cell("model.pt"),
    output:
        adjacency=cell("adjacency.npz"),
        nodes=cell("nodes.parquet"),
    log:
        cell("logs/adjacency.log"),
    benchmark:
        cell("logs/adjacency.benchmark.tsv")
    params:
        weighting=config["connectivity"]["weighting"],
    threads: res("adjacency", "threads", 1)
    resources:
        mem_mb=res("adjacency", "mem_mb"),
        runtime=res("adjacency", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/adjacency.py"


rule heat_signature:
    input:
        adjacency=cell("adjacency.npz"),
        nodes=cell("nodes.parquet"),
        reference=reference_heat,
    output:
        heat=cell("heat.parquet"),
        distance=cell("heat_distance.parquet"),
        layers=cell("heat_layers.parquet"),
        scree=cell("scree.parquet"),
    log:
        cell("logs/heat_signature.log"),
    benchmark:
        cell("logs/heat_signature.benchmark.tsv")
    params:
        connectivity=config["connectivity"],
    threads: res("heat_signature", "threads", 1)
    resources:
        mem_mb=res("heat_signature", "mem_mb"),
        runtime=res("heat_signature", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/heat_signature.py"
