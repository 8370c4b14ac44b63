# Two commands: `make demo` (install, then the whole pipeline on the bundled demo data) and `make test`.
# Both install into .venv first; the install is skipped when pyproject.toml has not changed.
VENV    ?= .venv
PYTHON  ?= python3
CORES   ?= $(shell nproc 2>/dev/null || echo 2)
BIN      = $(VENV)/bin
# torch and torchvision pinned for this project's machines; pyproject.toml keeps ranges open for clusters
TORCH    = torch==2.14.1 torchvision==0.29.1
STAMP    = $(VENV)/.installed
PACKAGES = $(TORCH) -e ".[vision,workflow,test]"
# uv does not read pip's configuration: hand it the package indexes pip uses (a local mirror, say)
PIP_SETTING = $(shell $(PYTHON) -m pip config list 2>/dev/null | sed -n "s/^[^.]*\.$(1)='\(.*\)'$$/\1/p" | head -1)
UV = UV_EXTRA_INDEX_URL="$(call PIP_SETTING,extra-index-url)" UV_FIND_LINKS="$(call PIP_SETTING,find-links)" \
     UV_INDEX_STRATEGY=unsafe-best-match $(BIN)/uv

# torch's CUDA build and its libraries take 6.2 GB in the venv: a full disk is named before the install starts
NEED_GB ?= 6.5

export WARM_TORCH = torch, torchvision, torch.distributed
export WARM_REST  = pandas, pyarrow.parquet, scipy.sparse, scipy.linalg, matplotlib.pyplot, seaborn, snakemake.cli, pytest, xdist

# a study's snakemake, its cost recorded in results/<study>/run.json (wall time, the machine's matmul rate, each
# training's seconds: n2n.runrecord), which `make publish-<study>` publishes as the page's `run` block
TIMED = $(BIN)/python -m n2n timed results/$(1) -- $(BIN)/snakemake

.PHONY: install demo study study-sparse report dag test clean-demo publish-demo publish-study publish-study-sparse

install: $(STAMP)

$(STAMP): pyproject.toml
	@ls -d $(VENV)/lib/python*/site-packages/torch >/dev/null 2>&1 || \
	  df -Pk $(dir $(VENV)) | awk -v need=$(NEED_GB) 'NR == 2 && $$4 < need * 1048576 { \
	    printf "make install: needs about %s GB free for %s (torch with its CUDA libraries); %.1f GB free here\n", \
	    need, "$(VENV)", $$4 / 1048576 > "/dev/stderr"; exit 1 }'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs in parallel, several times faster than pip; pip if uv cannot be had
	$(BIN)/pip install --quiet --timeout 20 --retries 1 uv 2>/dev/null && $(UV) pip install --quiet --python $(BIN)/python $(PACKAGES) \
	  || $(BIN)/pip install --quiet --no-compile $(PACKAGES)
	# byte-compile what the stages, Snakemake and the tests import by importing it once, in two processes
	# (a quarter of the files, in a third of the time of compiling them all): where PYTHONDONTWRITEBYTECODE
	# is set, every job would otherwise recompile torch
	for modules in "$$WARM_TORCH" "$$WARM_REST"; do PYTHONDONTWRITEBYTECODE= $(BIN)/python -c "import $$modules" & done; wait
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -c "import importlib, n2n.stage; [importlib.import_module(m) for m in n2n.stage.PRELOAD]"
	PYTHONDONTWRITEBYTECODE= $(BIN)/snakemake --version >/dev/null
	touch $(STAMP)

demo: install
	$(call TIMED,demo) all_tables --cores $(CORES) --configfile config/demo.yaml
	@echo
	@echo "Tables:  $$(ls results/demo/tables/*.md results/demo/tables/*.parquet | tr '\n' ' ')"
	@echo "Figures: $$(ls results/demo/figures/*.png results/demo/figures/*.pdf | tr '\n' ' ')"
	@cat results/demo/tables/table1.md
	@echo
	@cat results/demo/tables/claims.md
	@echo "All tables and figures on one page: make report"

# the paper's claims on Fashion-MNIST with 5 seeds (config/study.yaml; the data from Debian's package
# dataset-fashion-mnist or `snakemake download_data`): results/study/tables/{table1,claims}.md
study: install
	$(call TIMED,study) table1 claims --cores $(CORES) --configfile config/demo.yaml config/study.yaml
	@cat results/study/tables/table1.md
	@echo
	@cat results/study/tables/claims.md

# the paper's claims at 10 % and 5 % density: VGG19 at width 0.3125, 5 seeds (config/sparse.yaml, read over
# config/study.yaml): results/sparse/tables/{table1,claims}.md
study-sparse: install
	$(call TIMED,sparse) table1 table3 claims --cores $(CORES) --configfile config/demo.yaml config/study.yaml config/sparse.yaml
	@cat results/sparse/tables/table1.md
	@echo
	@cat results/sparse/tables/table3.md
	@echo
	@cat results/sparse/tables/claims.md

# the README's and docs/'s result blocks regenerated from the last run, with its commit, machine and date:
# its tables from results/<study>, its premises, claims and cells from its cells file, kept in studies/<study>
# with its run record where the run was timed (results/<study>/run.json)
# (`python -m n2n claims --cells studies/<study>/cells.parquet` recomputes them from the repository alone)
PUBLISH = mkdir -p studies/$(1) && cp results/$(1)/tables/cells.parquet studies/$(1)/cells.parquet && \
	{ [ ! -e results/$(1)/run.json ] || cp results/$(1)/run.json studies/$(1)/run.json; } && \
	$(BIN)/python -m n2n claims --cells studies/$(1)/cells.parquet && \
	$(BIN)/python -m n2n publish --results results/$(1) README.md docs/*.md && \
	$(BIN)/python -m n2n publish --results studies/$(1) README.md docs/*.md

publish-demo: install
	$(call PUBLISH,demo)

publish-study: install
	$(call PUBLISH,study)

publish-study-sparse: install
	$(call PUBLISH,sparse)

# one HTML page with every table and figure of the demo (run `make demo` first)
report: install
	$(BIN)/snakemake all_tables --cores $(CORES) --configfile config/demo.yaml --report results/demo/report.html
	@echo "Report: results/demo/report.html"

# one cell's DAG and the rule graph of the demo: Mermaid files (no graphviz needed: paste them into
# https://mermaid.live or a Markdown file), and SVGs where graphviz's dot is installed
DAG_CELL ?= results/demo/vgg19/digits/n2nskip-rp/0.1/seed0/acc.json
dag: install
	@mkdir -p results/demo
	$(BIN)/snakemake --dag mermaid-js $(DAG_CELL) --configfile config/demo.yaml > results/demo/dag.mmd
	$(BIN)/snakemake --rulegraph mermaid-js all_tables --configfile config/demo.yaml > results/demo/rulegraph.mmd
	@if command -v dot >/dev/null; then \
	  $(BIN)/snakemake --dag dot $(DAG_CELL) --configfile config/demo.yaml > results/demo/dag.dot && \
	  dot -Tsvg results/demo/dag.dot -o results/demo/dag.svg && \
	  $(BIN)/snakemake --rulegraph dot all_tables --configfile config/demo.yaml > results/demo/rulegraph.dot && \
	  dot -Tsvg results/demo/rulegraph.dot -o results/demo/rulegraph.svg && \
	  echo "DAG: results/demo/dag.svg, rule graph: results/demo/rulegraph.svg (and .mmd)"; \
	else \
	  echo "DAG: results/demo/dag.mmd, rule graph: results/demo/rulegraph.mmd (Mermaid: https://mermaid.live)."; \
	  echo "For SVGs install graphviz (Debian: sudo apt-get install graphviz) and run make dag again."; \
	fi

test: install
	$(BIN)/python -m pytest -q

clean-demo:
	rm -rf results/demo
