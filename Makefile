# Every target sets up what it needs: `make sweep`, `make check` and `make test` work on a fresh
# machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The checks and tests do many small linear-algebra calls; BLAS threads only add contention on
# small matrices (a 30x slow-down was measured for 12 x 12 SVDs on two shared cores). The
# commands set their own limits (`--threads`, default 1: lrbnn_core/threads.py); these variables
# cover the test suite's own processes and libraries loaded before a command sets them.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: install sweep paper-sweep compare readme-assets check test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: the default bound-vs-rank sweep (MLP on MNIST-1D), results and figures in
# sweep_out/; resumable (run it again after an interruption).
sweep: $(STAMP)
	$(VENV)/bin/lrbnn sweep --workers 2

# Issue 17's map of where low rank certifies tighter (`lrbnn sweep --profile paper`, MNIST-1D and
# digits; about 25 minutes each with two workers, resumable), then its committed artefacts:
# figures/sweep_paper_<data>.csv (the results) and figures/sweep_paper_<data>_*.png/json/csv.
paper-sweep: $(STAMP)
	for d in mnist1d digits; do \
	  $(VENV)/bin/lrbnn sweep --profile paper --dataset $$d --workers 2 --out sweep_paper_$$d && \
	  cp sweep_paper_$$d/results.csv figures/sweep_paper_$$d.csv && \
	  $(VENV)/bin/lrbnn figures --sweep sweep_paper_$$d --out figures --prefix sweep_paper_$${d}_ \
	  || exit 1; \
	done

# The paper's model families on the same four tasks over four seeds (issue 18, claims X1-X6):
# results, summary and figures into compare_full/, then the committed copies in figures/
# (resumable: run it again after an interruption).
compare: $(STAMP)
	$(VENV)/bin/lrbnn compare --profile full --workers 2 --out compare_full
	cp compare_full/results.csv figures/compare_results.csv
	cp compare_full/summary.csv figures/compare_summary.csv
	for f in compare_full/figures/*.png compare_full/figures/*.json; do \
	  cp $$f figures/compare_$$(basename $$f) || exit 1; \
	done

# Every artefact the README's numbers come from (verification/readme_numbers.py; a test compares
# them): the default sweep's results and figures, the paper profile's, the examples, the claim
# checks, the certificate runs (ours against PBB, the LSTM), the full comparison. About 1.5 hours on
# two cores.
readme-assets: $(STAMP)
	$(VENV)/bin/lrbnn sweep --workers 2
	cp sweep_out/results.csv figures/sweep_results.csv
	$(VENV)/bin/lrbnn figures --sweep sweep_out --out figures
	$(MAKE) paper-sweep
	$(MAKE) compare
	$(PY) -m lrbnn_core.examples --csv figures/examples.csv
	$(PY) -m lrbnn_core.pbb --dataset mnist1d --seed 0 --csv figures/certificates_pbb_mnist1d_s0.csv
	$(PY) -m lrbnn_core.pbb --dataset mnist1d --seed 1 --csv figures/certificates_pbb_mnist1d_s1.csv
	$(PY) -m lrbnn_core.pbb --dataset digits --data-seed 0 --seed 0 \
	  --csv figures/certificates_pbb_digits_s0.csv
	$(PY) -m lrbnn_core.pbb --dataset mnist1d --seed 0 --mc-bound bernstein \
	  --csv figures/certificates_pbb_mnist1d_s0_bernstein.csv
	$(PY) -m lrbnn_core.certified_training --arch lstm --ranks 8 32 --csv figures/certificates_lstm.csv
	$(VENV)/bin/lrbnn check

# Every claim check of CLAIMS.md (the spec, at the root; `lrbnn claims` lists it), written to
# paper_checks.md.
check: $(STAMP)
	$(VENV)/bin/lrbnn check

# The test suite, the README's Python blocks included (pytest-markdown-docs). pytest's exit code 5
# (no tests collected) is a failure here, never a pass.
test: $(STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check theory lrbnn_core verification tests benchmarks
	$(VENV)/bin/ruff format --check theory lrbnn_core verification tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# rewrites the README's timing artefacts in benchmarks/results/ (committed)
bench: $(STAMP)
	# the peer of bench_layers; --no-deps: it would pull another torch
	$(PY) -m pip install --quiet --no-deps bayesian-torch==0.5.0
	$(PY) benchmarks/bench_kl_inverse.py --json benchmarks/results/bench_kl_inverse.json
	$(PY) benchmarks/bench_output_variance.py
	$(PY) benchmarks/bench_gaussian_complexity.py
	$(PY) benchmarks/bench_layers.py --threads 1 --sizes 1024 256 64 \
	  --json benchmarks/results/bench_layers.json
	$(PY) benchmarks/bench_sequence.py --json benchmarks/results/bench_sequence.json
	$(PY) benchmarks/bench_sweep_point.py --json benchmarks/results/bench_sweep_point.json
	$(PY) benchmarks/bench_stacked_points.py --json benchmarks/results/bench_stacked_points.json
	$(PY) benchmarks/bench_compiled_steps.py --json benchmarks/results/bench_compiled_steps.json
	# the sweeps now against the commit before issue 16's work, side by side (about 12 minutes)
	$(PY) benchmarks/bench_sweep_wall.py --json benchmarks/results/bench_sweep_wall.json
	# the default sweep with --compile beside the baseline and the eager sweep (about 14 minutes)
	$(PY) benchmarks/bench_sweep_compile.py --json benchmarks/results/bench_sweep_compile.json
	$(PY) benchmarks/bench_sweep_workers.py --json benchmarks/results/bench_sweep_workers.json
	$(PY) benchmarks/time_readme_commands.py --json benchmarks/results/readme_commands.json

clean:
	rm -rf $(VENV)
