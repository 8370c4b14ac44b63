# Data: CIFAR can be fetched where there is network; ImageNet must be placed by hand
# (`python -m n2n prepare-imagenet` builds its tree from the official archives).
import os


rule download_data:
    input:
        [f"{DATA}/{folder}" for folder in registry.CIFAR_FOLDERS.values()],


rule download_cifar:
    output:
        directory(in_data("{folder}")),
    wildcard_constraints:
        folder="|".join(registry.CIFAR_FOLDERS.values()),
    log:
        "logs/download_{folder}.log",
    benchmark:
        "logs/download_{folder}.benchmark.tsv"
    params:
        dataset=lambda wc: {v: k for k, v in registry.CIFAR_FOLDERS.items()}[wc.folder],
        data_root=lambda wc, output: os.path.dirname(output[0]),  # torchvision writes the folder there
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV
    script:
        "../workflow_scripts/download_data.py"


rule imagenet_missing:
    output:
        directory(in_data("imagenet")),
    log:
        "logs/imagenet_missing.log",
    benchmark:
        "logs/imagenet_missing.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=100,
        runtime=1,
    conda:
        ENV
    shell:
        "echo 'ImageNet is not downloadable: build its tree at {output} with "
        "python -m n2n prepare-imagenet --archives <folder of the ILSVRC2012 tars> --out {output}' "
        "| tee {log} >&2; exit 1"
