# Two commands: `make demo` (install, then the whole pipeline on the bundled demo data) and `make test`.
# Both install into .venv first; the install is skipped when pyproject.toml has not changed.
VENV    ?= .venv
PYTHON  ?= python3
CORES   ?= $(shell nproc 2>/dev/null || echo 2)
BIN      = $(VENV)/bin
# torch and torchvision pinned for this project's machines; pyproject.toml keeps ranges open for clusters
TORCH    = torch==2.14.1 torchvision==0.29.1
STAMP    = $(VENV)/.installed

.PHONY: install demo report test clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# pip byte-compiles one file at a time: compiling afterwards on every core saves about a minute
	$(BIN)/pip install --quiet --no-compile $(TORCH) -e ".[vision,workflow,test]"
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true  # a file that fails compiles on import
	touch $(STAMP)

demo: install
	$(BIN)/snakemake all_tables --cores $(CORES) --configfile config/demo.yaml
	@echo
	@echo "Tables:  $$(ls results/demo/tables/*.md results/demo/tables/*.parquet | tr '\n' ' ')"
	@echo "Figures: $$(ls results/demo/figures/*.png results/demo/figures/*.pdf | tr '\n' ' ')"
	@cat results/demo/tables/table1.md
	@echo "All tables and figures on one page: make report"

# one HTML page with every table and figure of the demo (run `make demo` first)
report: install
	$(BIN)/snakemake all_tables --cores $(CORES) --configfile config/demo.yaml --report results/demo/report.html
	@echo "Report: results/demo/report.html"

test: install
	$(BIN)/python -m pytest -q

clean-demo:
	rm -rf results/demo
