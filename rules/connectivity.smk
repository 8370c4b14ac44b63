# adjacency -> heat_signature: the channel graph of the trained network and its heat diffusion.


rule adjacency:
    input:
        CELL + "/model.pt",
    output:
        adjacency=CELL + "/adjacency.npz",
        nodes=CELL + "/nodes.parquet",
    log:
        CELL + "/logs/adjacency.log",
    benchmark:
        CELL + "/logs/adjacency.benchmark.tsv"
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
        adjacency=CELL + "/adjacency.npz",
        nodes=CELL + "/nodes.parquet",
        reference=reference_heat,
    output:
        heat=CELL + "/heat.parquet",
        distance=CELL + "/heat_distance.parquet",
        layers=CELL + "/heat_layers.parquet",
        scree=CELL + "/scree.parquet",
    log:
        CELL + "/logs/heat_signature.log",
    benchmark:
        CELL + "/logs/heat_signature.benchmark.tsv"
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
