# train -> evaluate. Training checkpoints every epoch to train_checkpoint.pt (not an output, so a
# failed or preempted job keeps it) and a rerun resumes from it. A training job given several GPUs
# (`gpu: N` in resources.train or resources.train_<dataset>) runs data-parallel on N processes.
# A training may take `resources.train.retries` attempts (the profile's `retries` where unset): each
# must checkpoint an epoch, or after two that do not the next is refused (n2n.stop.begin_attempt).


rule train:
    input:
        masks=final_mask,
        data=data_input,
    output:
        model=cell_file("model.pt"),
        metrics=cell_file("metrics.parquet"),
    log:
        cell_file("logs/train.log"),
    benchmark:
        cell_file("logs/train.benchmark.tsv")
    params:
        checkpoint=cell_file("train_checkpoint.pt"),
        data_root=DATA,
        recipe=recipe,
        device=config["device"],
        processes=lambda wc: max(1, train_res(wc, "gpu", 0)),
    threads: lambda wc: train_res(wc, "threads", 1)
    # Snakemake's main process resubmits; the one inside a cluster job must not retry in the same
    # allocation (a retry there would run into the time limit, and a job ending past it is failed)
    retries: res("train", "retries") if workflow.is_main_process else None
    resources:
        mem_mb=lambda wc: train_res(wc, "mem_mb"),
        runtime=lambda wc: train_res(wc, "runtime"),
        gpu=lambda wc: train_res(wc, "gpu", 0),
    conda:
        ENV
    script:
        "../workflow_scripts/train.py"


rule evaluate:
    input:
        model=cell_file("model.pt"),
        metrics=cell_file("metrics.parquet"),
        masks=final_mask,
        data=data_input,
    output:
        cell_file("acc.json"),
    log:
        cell_file("logs/evaluate.log"),
    benchmark:
        cell_file("logs/evaluate.benchmark.tsv")
    params:
        data_root=DATA,
        batch_size=lambda wc: recipe(wc)["eval_batch_size"],
        precision=lambda wc: recipe(wc).get("precision", "auto"),
        device=config["device"],
    threads: res("evaluate", "threads", 1)
    resources:
        mem_mb=res("evaluate", "mem_mb"),
        runtime=res("evaluate", "runtime"),
        gpu=res("evaluate", "gpu", 0),
    conda:
        ENV
    script:
        "../workflow_scripts/evaluate.py"
