# Run `make` for the list of targets.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO ?= go
TEST_TIMEOUT ?= 15m

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/edge and bin/worker
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edge ./edge
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/worker ./worker

.PHONY: run
run: build ## start a private Redis (.data/), the edge and the worker, and print how to try them
	deploy/local/run.sh

.PHONY: tools
tools: ## make sure redis-server and prometheus are installed (apt-get as root)
	deploy/local/ensure-tools.sh --test

.PHONY: test
test: tools ## go vet and go test -race ./... against real redis-servers
	$(GO) vet ./...
	@# allocation budgets first, without -race (the race detector allocates)
	$(GO) test -count=1 -run 'Allocs' ./pkg/...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-cluster
test-cluster: tools ## the integration suite against a local three-master Redis Cluster
	deploy/local/cluster.sh $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-faults
test-faults: tools ## fault tests: kill -9 a worker, restart and pause Redis, fill the click buffer; exact accounting
	$(GO) test -tags faults -count=1 -run Fault -v -timeout 10m ./deploy/e2e/

.PHONY: test-ui
test-ui: tools ## the /ui/ page in real headless Chromium (installs chromium as root); screenshots in .data/artifacts
	deploy/local/ensure-tools.sh --ui
	$(GO) test -tags ui -count=1 -run UI -v -timeout 10m ./deploy/e2e/

.PHONY: soak
soak: tools ## SOAK_DURATION (60s) at SOAK_RATE (2000 req/s), then drain: zero errors, exact click accounting
	$(GO) test -tags faults -count=1 -run Soak -v -timeout 30m ./deploy/e2e/

.PHONY: fuzz
fuzz: ## run every fuzz target briefly (FUZZTIME=5s each)
	deploy/local/fuzz.sh

.PHONY: check-deploy
check-deploy: ## promtool checks of the Prometheus config, rules and rule tests; parse every YAML and JSON in deploy/
	bash deploy/check.sh

.PHONY: bench
bench: ## Go benchmarks of the hot code, with -benchmem
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: bench-load
bench-load: tools ## the load harness (about 9 min): edge vs a fixed-302 ceiling, worker throughput, memory; writes benchmarks/RESULTS.md
	$(GO) run ./benchmarks/load -out benchmarks/RESULTS.md

.PHONY: lint
lint: ## gofmt, go vet and a go mod tidy diff
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt needed" && exit 1)
	$(GO) vet ./...
	$(GO) mod tidy -diff

.PHONY: clean
clean: ## remove bin/ and .data/
	rm -rf bin .data
