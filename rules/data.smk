# Data: a data set whose record (n2n.registry) has a downloader is fetched where there is network;
# ImageNet must be placed by hand (`python -m n2n prepare-imagenet` builds its tree from the archives).
import os


rule download_data:
    input:
        [in_data(folder) for folder in registry.downloadable()],


rule download_dataset:
    output:
        directory(in_data("{folder}")),
    wildcard_constraints:
        folder="|".join(registry.downloadable()),
    log:
        in_results("logs/download_{folder}.log"),
    benchmark:
        in_results("logs/download_{folder}.benchmark.tsv")
    params:
        dataset=lambda wc: registry.downloadable()[wc.folder].name,
        download=lambda wc: registry.downloadable()[wc.folder].download,
        data_root=lambda wc, output: os.path.dirname(output[0]),  # the downloader writes the folder there
    threads: res("download", "threads", 1)
    resources:
        mem_mb=res("download", "mem_mb"),
        runtime=res("download", "runtime"),
    conda:
        ENV
    script:
        "../workflow_scripts/download_data.py"


rule imagenet_missing:
    output:
        directory(in_data("imagenet")),
    log:
        in_results("logs/imagenet_missing.log"),
    benchmark:
        in_results("logs/imagenet_missing.benchmark.tsv")
    threads: 1
    resources:
        mem_mb=res("download", "mem_mb"),
        runtime=1,
    conda:
        ENV
    shell:
        "echo 'ImageNet is not downloadable: build its tree at {output} with "
        "python -m n2n prepare-imagenet --archives <folder of the ILSVRC2012 tars> --out {output}' "
        "| tee {log} >&2; exit 1"
