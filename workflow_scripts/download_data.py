"""Rule download_dataset -> the data set's downloader (n2n.registry; CIFAR: n2n.data.download_cifar)."""
from n2n.stage import run_stage

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_stage(sm.params.download, sm.log[0], name=sm.params.dataset, data_root=sm.params.data_root)
