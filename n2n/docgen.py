"""Lists in the README, docs/ and the Snakefile that mirror the code, generated from it so that they cannot drift.

A generated block is marked in a page as

    <!-- BEGIN generated modules -->
    ...
    <!-- END generated modules -->

(in the Snakefile, `# BEGIN generated targets` ... `# END generated targets`, every line a comment). The blocks:
`modules` (each module of n2n/ with its docstring's first sentence), `targets` (the workflow's named targets, from
n2n.outputs and the rules), `config` (every key of the config schema with config.yaml's value, the default where
it may be left out, and its description), `rules` (each rule's threads and resources, read from rules/*.smk),
`faults` (what a stage says of each fault, from the templates the raising code formats), `verdicts` and `premises`
(the claims' words and what each means, from n2n.claims).

`python -m n2n docs` rewrites every block; tests/test_docs.py fails while a block differs from what the code gives.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML_BLOCK = re.compile(r"(<!-- BEGIN generated (\S+) -->\n)(.*?)(<!-- END generated \2 -->)", flags=re.S)
COMMENT_BLOCK = re.compile(r"(# BEGIN generated (\S+)\n)(.*?)(# END generated \2)", flags=re.S)


def first_sentence(docstring: str) -> str:
    """A docstring's first sentence: its first paragraph, up to the first full stop that ends a sentence."""
    paragraph = " ".join(docstring.strip().split("\n\n", 1)[0].split())
    match = re.search(r"\.(\s|$)", paragraph)
    return paragraph[: match.start() + 1] if match else paragraph


def modules(root: Path = ROOT) -> str:
    """One line per module of n2n/ (its packages' modules included): its name and its docstring's first sentence."""
    lines = []
    for path in sorted((root / "n2n").rglob("*.py")):
        name = ".".join(path.relative_to(root / "n2n").with_suffix("").parts)
        name = name.removesuffix(".__init__") if name != "__init__" else "n2n"
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        if not docstring:
            raise ValueError(f"{path.relative_to(root)} has no docstring: say in one sentence what the module is")
        lines.append(f"- `{name}`: {first_sentence(docstring)}")
    return "\n".join(lines)


# targets that name no table or figure: (rule, what it builds)
FIXED_TARGETS = [
    ("all_tables", "every table and figure and the claims (the default target)"),
    ("claims", "the paper's claims, tested: tables/claims.md and .parquet"),
    ("config_used", "the config the run used"),
    ("download_data", "every data set with a downloader"),
]


def target_names() -> list[tuple[str, str]]:
    """The workflow's named targets: (rule, what it builds), those of each table and figure from n2n.outputs."""
    from n2n.outputs import FIGURES, TABLES

    tables = [(name if name.startswith("table") else f"table_{name}", TABLES[name].title) for name in TABLES]
    figures = [(f"figure_{name}", FIGURES[name].title) for name in FIGURES]
    return [*FIXED_TARGETS, *tables, *figures]


def targets(root: Path = ROOT) -> str:
    return "\n".join(f"- `{name}`: {what}" for name, what in target_names())


def snakefile_targets(root: Path = ROOT) -> str:
    return "\n".join(f"#   {name}: {what}" for name, what in target_names())


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _defaults() -> dict[str, Any]:
    """Defaults of keys that may be left out, from the dataclasses that hold them: `section.key` -> value."""
    from n2n import registry
    from n2n.claims import ClaimOptions
    from n2n.health import HealthOptions
    from n2n.training import Recipe

    found: dict[str, Any] = {}
    for section, cls in (("training", Recipe), ("claims", ClaimOptions), ("health", HealthOptions)):
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING:
                found[f"{section}.{field.name}"] = field.default
    for name, target in registry.PRUNERS.items():
        module, cls_name = target.split(":")
        options = getattr(getattr(importlib.import_module(module), cls_name), "Options", None)
        if options is not None and dataclasses.is_dataclass(options):
            for field in dataclasses.fields(options):
                if field.default is not dataclasses.MISSING:
                    found[f"pruning.{name}.{field.name}"] = field.default
    return found


def config_table(root: Path = ROOT) -> str:
    """Every key of the config schema: config.yaml's value, the default where it may be left out, its meaning."""
    schema = yaml.safe_load((root / "n2n" / "schemas" / "config.schema.yaml").read_text())
    definitions = schema["definitions"]
    paper = yaml.safe_load((root / "config.yaml").read_text())
    defaults = _defaults()

    def resolve(node: dict) -> dict:
        for ref in [node.get("$ref"), *(part.get("$ref") for part in node.get("allOf", []))]:
            if ref:
                return {**definitions[ref.rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def is_grid(node: dict) -> bool:
        return node.get("$ref") == "#/definitions/grid"

    rows = []

    def row(key: str, node: dict, value: Any, required: bool) -> None:
        if "description" not in node:
            raise ValueError(f"config schema: `{key}` has no description (n2n/schemas/config.schema.yaml): say what "
                             "it sets, and the docs table follows")
        if is_grid(node):
            shown = "a grid" if value is not None else "—"
        elif isinstance(value, dict):
            shown = "a section"
        else:
            shown = "—" if value is None else f"`{_flow(value)}`"
        left_out = ("required" if required else f"`{_flow(defaults[key])}`" if key in defaults
                    else f"`{_flow(node['default'])}`" if "default" in node else "—")
        text = node["description"].replace("|", "\\|")
        rows.append(f"| `{key}` | {shown} | {left_out} | {text} |")

    def walk(key: str, node: dict, value: Any, required: bool) -> None:
        row(key, node, value, required)
        if is_grid(node):
            return
        node = resolve(node)
        for child, child_node in node.get("properties", {}).items():
            walk(f"{key}.{child}", child_node, value.get(child) if isinstance(value, dict) else None,
                 child in node.get("required", []))

    for key, node in schema["properties"].items():
        walk(key, node, paper.get(key), key in schema["required"])
        if key == "resources":  # resources.<name>.<field>: the fields every name may set
            for field, field_node in definitions["resource"]["properties"].items():
                row(f"resources.<name>.{field}", field_node, None, False)
    for field, field_node in definitions["grid"]["properties"].items():
        row(f"<grid>.{field}", field_node, None, field in definitions["grid"]["required"])
    return "\n".join(["| key | config.yaml | left out | meaning |", "|---|---|---|---|", *rows])


def _resource_source(rule: str, expression: str) -> str:
    """Where a rule's threads or resource comes from, in the config's words."""
    from n2n import registry

    expression = expression.strip().rstrip(",")
    if re.fullmatch(r"\d+", expression):
        return f"{expression} (fixed)"
    if match := re.fullmatch(r'res\("(\w+)", "\w+"(?:, [^)]*)?\)(?: if workflow\.is_main_process else None)?',
                             expression):
        return f"`{match.group(1)}`"
    if re.fullmatch(r'(lambda wc: )?prune_res\(wc, "\w+"(?:, [^)]*)?\)', expression):
        return f"`prune_learned` ({', '.join(sorted(registry.LEARNED_PRUNERS))}), else `prune`"
    if re.fullmatch(r'(lambda wc: )?train_res\(wc, "\w+"(?:, [^)]*)?\)', expression):
        return "`train_<dataset>`, else `train`"
    raise ValueError(f"rules: {rule}'s {expression!r} is not a resource n2n.docgen can name; teach "
                     "n2n.docgen._resource_source its form")


RESOURCE_COLUMNS = ("threads", "mem_mb", "runtime", "gpu", "retries")


def rule_resources(root: Path = ROOT) -> list[tuple[str, dict[str, str]]]:
    """(rule, {threads/resource: where it comes from}) for each named rule of rules/*.smk that sets any."""
    found = []
    for path in sorted((root / "rules").glob("*.smk")):
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(), flags=re.M):
            rule, body = match.group(1), match.group(2)
            sources = {}
            if threads := re.search(r"^    threads: (.+)$", body, flags=re.M):
                sources["threads"] = _resource_source(rule, threads.group(1))
            if retries := re.search(r"^    retries: (.+)$", body, flags=re.M):
                sources["retries"] = _resource_source(rule, retries.group(1))
            if block := re.search(r"^    resources:\n((?:        .*\n|\s*#.*\n)*)", body, flags=re.M):
                for line in block.group(1).splitlines():
                    if line.strip().startswith("#") or "=" not in line:
                        continue
                    key, expression = line.strip().split("=", 1)
                    sources[key] = _resource_source(rule, expression)
            if sources:
                found.append((rule, sources))
    return found


def rules_table(root: Path = ROOT) -> str:
    head = ["| rule | " + " | ".join(RESOURCE_COLUMNS) + " |", "|---|" + "---|" * len(RESOURCE_COLUMNS)]
    return "\n".join(head + [f"| `{rule}` | " + " | ".join(sources.get(c, "—") for c in RESOURCE_COLUMNS) + " |"
                             for rule, sources in rule_resources(root)])


def fault_rows() -> list[tuple[str, str, str]]:
    """(fault, what the stage says, what a rerun does), the messages from the templates the raising code uses."""
    from n2n import io, masks, modelfiles

    write = dict(file="<file>", space="<free> free on its filesystem", need=", the write needs about <size>", kept="")
    same = "the same"
    return [
        ("disk full, quota", io.WRITE_FAILED.format(error="no space left on device", **write),
         "the uninterrupted run's result; a training resumes from its last epoch"),
        ("read-only folder", io.WRITE_FAILED.format(error="read-only file system", **write), same),
        ("a corrupt table input or cell file", io.UNREADABLE.format(file="<file>", kind="parquet file", error="..."),
         "the same, once rebuilt"),
        ("corrupt masks", masks.UNREADABLE_MASKS.format(file="<file>", error="..."), "the same, once pruned again"),
        ("a corrupt model", modelfiles.UNREADABLE_MODEL.format(file="<file>", error="..."),
         "the same, once trained again"),
        ("a corrupt training checkpoint", modelfiles.CORRUPT_CHECKPOINT.format(file="<file>", error="..."),
         "the uninterrupted run's result, trained from epoch 0"),
        ("job killed mid-write", "nothing: no output under its final name (outputs are renamed into place whole)",
         "the dead writer's temporary file removed, the same result"),
    ]


def faults(root: Path = ROOT) -> str:
    rows = [f"| {fault} | {'`' + said + '`' if not said.startswith('nothing') else said} | {rerun} |"
            for fault, said, rerun in fault_rows()]
    return "\n".join(["| fault | what the stage says | a rerun once it is gone |", "|---|---|---|", *rows])


def verdicts(root: Path = ROOT) -> str:
    """Each verdict word of the claims and what it means (n2n.claims.VERDICTS), and the health mark."""
    from n2n.claims import HEALTH_MARK, VERDICTS

    rows = [f"| {word} | {meaning} |" for word, meaning in VERDICTS.items()]
    return "\n".join(["| verdict | meaning |", "|---|---|", *rows,
                      f"| {HEALTH_MARK} (a mark) | the verdict over all pairs, unhealthy seeds included, differs |"])


def premise_statuses(root: Path = ROOT) -> str:
    """Each premise status a claim row carries and what it means (n2n.claims.PREMISE_STATUS)."""
    from n2n.claims import PREMISE_STATUS

    return "\n".join(["| premise | meaning |", "|---|---|",
                      *(f"| {word} | {meaning} |" for word, meaning in PREMISE_STATUS.items())])


BLOCKS: dict[str, Callable[[Path], str]] = {"modules": modules, "targets": targets, "config": config_table,
                                            "rules": rules_table, "faults": faults, "verdicts": verdicts,
                                            "premises": premise_statuses}
PAGES = ("README.md", "docs/*.md")


def _pages(root: Path) -> list[Path]:
    return sorted({p for pattern in PAGES for p in root.glob(pattern)})


def regenerate(text: str, root: Path = ROOT, comment: bool = False) -> str:
    """`text` with every generated block rewritten; an unknown block's name is an error."""
    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in BLOCKS:
            raise ValueError(f"no generated block is called {name!r} (known: {', '.join(BLOCKS)})")
        if comment:
            if name != "targets":
                raise ValueError(f"the Snakefile holds the generated targets only, not {name!r}")
            return match.group(1) + snakefile_targets(root) + "\n" + match.group(4)
        return match.group(1) + BLOCKS[name](root) + "\n" + match.group(4)

    return (COMMENT_BLOCK if comment else HTML_BLOCK).sub(replace, text)


def files(root: Path = ROOT) -> list[tuple[Path, bool]]:
    """Every file with generated blocks: (path, whether its blocks are comments)."""
    return [*((p, False) for p in _pages(root)), (root / "Snakefile", True)]


def stale(root: Path = ROOT) -> list[str]:
    """The files whose generated blocks differ from what the code gives now."""
    return [str(path.relative_to(root)) for path, comment in files(root)
            if regenerate(path.read_text(), root, comment) != path.read_text()]


def write_all(root: Path = ROOT) -> list[str]:
    """Rewrite every generated block; the files that changed."""
    from n2n.io import write_text

    changed = []
    for path, comment in files(root):
        text = path.read_text()
        new = regenerate(text, root, comment)
        if new != text:
            write_text(path, new)
            changed.append(str(path.relative_to(root)))
    return changed
