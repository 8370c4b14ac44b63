# adjacency -> heat_signature: the channel graph of the trained network and its heat diffusion.


rule adjacency:
    input:
        cell_file("model.pt"),
    output:
        adjacency=cell_file("adjacency.npz"),
        nodes=cell_file("nodes.parquet"),
    log:
        cell_file("logs/adjacency.log"),
    benchmark:
        cell_file("logs/adjacency.benchmark.tsv")
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
        adjacency=cell_file("adjacency.npz"),
        nodes=cell_file("nodes.parquet"),
        reference=reference_heat,
    output:
        heat=cell_file("heat.parquet"),
        distance=cell_file("heat_distance.parquet"),
        layers=cell_file("heat_layers.parquet"),
        scree=cell_file("scree.parquet"),
    log:
        cell_file("logs/heat_signature.log"),
    benchmark:
        cell_file("logs/heat_signature.benchmark.tsv")
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
