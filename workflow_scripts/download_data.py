"""Rule download_cifar -> n2n.data.download_cifar (needs network and torchvision)."""
from n2n.data import download_cifar
from n2n.joblog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]):
    download_cifar(sm.params.dataset, sm.params.data_root)
