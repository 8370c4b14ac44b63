# A requested file under the results folder that no rule writes (a misspelt cell file, a path without
# its seed folder): this rule matches only such paths, and names what a cell's files are called
# instead of Snakemake's bare "No rule to produce".
rule unknown_target:
    output:
        f"{R}/{{unknown}}",
    wildcard_constraints:
        unknown=n2n.outputs.UNKNOWN_TARGET_REGEX,
    input:
        lambda wc: n2n.config.stop_on_error(n2n.outputs.check_target, f"{R}/{wc.unknown}", R),
    log:
        in_results("logs/unknown_target/{unknown}.log"),
    conda:
        ENV
    shell:
        "exit 1"
