"""Rule download_cifar -> n2n.data.download_cifar (needs network and torchvision)."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage("n2n.data:download_cifar", sm.log[0], name=sm.params.dataset, data_root=sm.params.data_root)
