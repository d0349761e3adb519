# meshglass: every entry point lives here. Targets are thin wrappers over cargo and
# the scripts in tests/tools/; read this file to learn how the project is built and run.

SHELL := /bin/bash
CARGO ?= cargo
CLUSTERS ?= east west
# Built tools (kube-apiserver, etcd, kwok, ...) are cached outside the clone, keyed by version.
export MESHGLASS_CACHE ?= $(HOME)/.cache/meshglass

.PHONY: help demo demo-down test lint fmt-check clippy acyclic deny unit e2e crds crds-check \
        charts charts-check findings-check ui-unit proptest-million tools prereqs clusters-up clusters-down bench bench-testbed bench-istio bench-server bench-scale bench-dashboard bench-metrics-store bench-ui bench-operator compare-server ui ui-test bundle bundle-check images images-lint

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

## --- the two commands -------------------------------------------------------

demo: prereqs tools ui ## the east/west demo mesh with the operator and the server (Ctrl-C stops it); TOPOLOGY=multi-primary: the three-cluster multi-primary lab instead; METRICS=thanos: over Thanos Query behind a token gate; OPENID=1: also an OpenID provider per cluster and a server logging users in
	$(CARGO) build --locked -q -p meshglass-operator -p meshglass-server --bins
	$(CARGO) run --locked -q -p meshglass-simulator --bin meshglass-demo -- up --state-dir .local $(if $(TOPOLOGY),--topology $(TOPOLOGY)) $(if $(METRICS),--metrics $(METRICS)) $(if $(OPENID),--openid)

demo-down: ## stop what `make demo` started, and what a crashed demo left behind
	$(CARGO) run --locked -q -p meshglass-simulator --bin meshglass-demo -- down --state-dir .local

test: prereqs tools lint crds-check charts-check bundle-check images-lint unit e2e ui-test ## everything CI runs: lint, CRD drift, unit, end-to-end and browser tests

## --- pieces of `make test` ---------------------------------------------------

prereqs: ## install the Debian packages the tests use (prometheus, chromium), when missing
	@tests/tools/prereqs.sh
	@api-server/ui/scripts/prereqs.sh

tools: ## build (or reuse from $(MESHGLASS_CACHE)) kube-apiserver, controller-manager, scheduler, etcd, kwok
	@tests/tools/build-tools.sh

lint: fmt-check clippy acyclic deny ## rustfmt, clippy -D warnings, no import cycle between modules, cargo-deny's policy

fmt-check:
	$(CARGO) fmt --all --check

clippy: ui
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

deny: ## licenses, banned crates and sources of every dependency against deny.toml (cargo-deny, cached in $(MESHGLASS_CACHE))
	@CARGO=$(CARGO) tests/tools/deny.sh

acyclic: ## no module of a workspace library imports one that imports it back (cargo-modules, cached in $(MESHGLASS_CACHE))
	@CARGO=$(CARGO) tests/tools/acyclic.sh

unit: ui ui-unit ## unit tests of every crate, and the integration tests of every crate but the test bed's (no clusters)
	$(CARGO) test --workspace --locked --exclude meshglass-testbed --tests
	$(CARGO) test --locked -p meshglass-testbed --lib --bins

e2e: prereqs tools ui ## end-to-end tests on real control planes (tests/tests/*.rs; the fault suite runs the server binary)
	$(CARGO) build --locked -p meshglass-server --bin meshglass-server
	$(CARGO) test --locked -p meshglass-testbed --tests -- --test-threads=2

crds: ## regenerate the committed CRD YAML from the Rust types, and its copies in charts/ and bundle/
	$(CARGO) run --locked -q -p meshglass-operator -- crd > crds/kiali.io_kialis.yaml
	@$(MAKE) --no-print-directory charts bundle

crds-check: ## fail when the committed CRD YAML differs from the Rust types
	@$(CARGO) run --locked -q -p meshglass-operator -- crd > target/kiali.io_kialis.yaml.check
	@diff -u crds/kiali.io_kialis.yaml target/kiali.io_kialis.yaml.check \
	  || { echo "crds/kiali.io_kialis.yaml is stale: run 'make crds' and commit it"; exit 1; }

bundle: ## regenerate the OLM bundle (bundle/) from the CRD, the operator's RBAC and examples/; IMAGE_REGISTRY=… for a registry
	$(CARGO) run --locked -q -p meshglass-operator -- bundle --out bundle $(if $(IMAGE_REGISTRY),--image-registry $(IMAGE_REGISTRY))

bundle-check: tools ## fail when bundle/ is stale or operator-verify reports an error in it
	@$(CARGO) build --locked -q -p meshglass-operator --bin meshglass-operator
	@tests/tools/bundle-check.sh $${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/meshglass-operator bundle

images-lint: ## Containerfile rules: pinned bases, no ADD, numeric non-root USER, exec-form ENTRYPOINT, OCI labels
	@images/lint.sh

images: ui ## build the operator and server images offline with buildah (FROM scratch + host release binaries; OCI archives in target/images/)
	$(CARGO) build --locked --release -q -p meshglass-operator -p meshglass-server --bins
	images/build-local.sh $${CARGO_TARGET_DIR:-$(CURDIR)/target}/release

proptest-million: ## the four no-panic properties at a million inputs each (query parameters, kubeconfigs and Prometheus bodies run a million in `make unit` too; CR specs 20,000 there): about an hour
	$(CARGO) test --locked -p meshglass-server --test params_proptest
	$(CARGO) test --locked -p meshglass-crds --lib kubeconfig::tests
	$(CARGO) test --locked -p meshglass-engine --test prometheus_bodies -- --nocapture
	MESHGLASS_PROPTEST_CASES=1000000 $(CARGO) test --locked -p meshglass-operator --lib build::proptests

findings-check: ## mutation check of the Trust findings: each guard undone (tests/tools/findings/*.patch) must fail its test; FINDINGS="1a 5" picks cases
	@CARGO=$(CARGO) tests/tools/findings-check.sh

## --- Helm charts (charts/) ---------------------------------------------------

charts: ## regenerate the charts' generated files: the CRD copy and the RBAC rules (`meshglass-operator rbac`)
	cp crds/kiali.io_kialis.yaml charts/meshglass-operator/crds/kiali.io_kialis.yaml
	$(CARGO) run --locked -q -p meshglass-operator -- rbac > charts/meshglass-operator/files/rbac.yaml
	$(CARGO) run --locked -q -p meshglass-operator -- rbac --server > charts/meshglass-server/files/rules.yaml

charts-check: tools ## helm lint --strict both charts (defaults and charts/*/ci values) and drift of their generated files
	@charts/check.sh

## --- web UI ------------------------------------------------------------------

ui: ## build the web UI into api-server/ui/dist (npm ci + vite build; skipped when dist is newer than its sources)
	@api-server/ui/scripts/build.sh

ui-unit: ui ## unit tests of the UI's pure modules (node --test api-server/ui/tests/unit/*.test.mjs: wizard builder against its golden file, merge patches)
	cd api-server/ui && node --test tests/unit/*.test.mjs

ui-test: prereqs tools ui ## browser tests of the UI (Debian chromium + playwright-core) on the demo mesh, and `make bench-ui` at 50 nodes (graphbench.test.mjs: its figures measured, none asserted)
	$(CARGO) build --locked -q -p meshglass-operator -p meshglass-server -p meshglass-simulator --bins
	cd api-server/ui && MESHGLASS_BIN_DIR=$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug node --test --test-concurrency=1 tests/*.test.mjs

## --- local clusters ----------------------------------------------------------

clusters-up: tools ## start CLUSTERS (default "east west") on loopback; writes .local/kubeconfig
	$(CARGO) run --locked -q -p meshglass-testbed --bin testbed -- up --state-dir .local $(CLUSTERS)

clusters-down: ## stop the clusters started by clusters-up
	$(CARGO) run --locked -q -p meshglass-testbed --bin testbed -- down --state-dir .local

## --- benchmarks --------------------------------------------------------------

bench: ## criterion benchmarks of the engine, and the test-bed figures
	$(CARGO) bench --locked -p meshglass-engine

bench-testbed: tools ## cold/warm figures for the test bed: build time, start time, memory
	$(CARGO) run --locked -q -p meshglass-testbed --bin testbed -- bench

bench-istio: tools ## Istio config figures at 2 clusters x 200 namespaces x 5 objects: the engine's full validation run (criterion, allocations), then p50/p95 of /api/istio/config (with and without validate) and /api/istio/validations on the test bed; SERVER_BIN=<binary> skips the release build
	$(CARGO) bench --locked -p meshglass-engine --bench validations
	$(if $(SERVER_BIN),,$(CARGO) build --locked --release -q -p meshglass-server)
	$(CARGO) run --locked --release -q -p meshglass-testbed --example istio_bench -- $(if $(SERVER_BIN),--server-bin $(SERVER_BIN))

bench-server: tools ## server figures on the test bed: graph p50/p95 (1/50/200 namespaces), /api/namespaces under graph load, RSS per cached pod; BASELINE=<binary> measures it first
	$(CARGO) build --locked --release -q -p meshglass-server
	$(CARGO) run --locked --release -q -p meshglass-testbed --example server_bench -- $(if $(BASELINE),--baseline-bin $(BASELINE))

bench-scale: tools ## the pages people wait on at 3 clusters x 800 namespaces (~20,000 pods): graph, overview, lists, a workload detail, p50/p95 and 20 concurrent clients for 2 minutes, start-up, memory per pod; NAMESPACES=, PODS=, SERVER_BIN=<binary> skips the release build
	$(if $(SERVER_BIN),,$(CARGO) build --locked --release -q -p meshglass-server)
	$(CARGO) run --locked --release -q -p meshglass-testbed --example scale_bench -- $(if $(SERVER_BIN),--server-bin $(SERVER_BIN)) $(if $(NAMESPACES),--namespaces $(NAMESPACES)) $(if $(PODS),--pods $(PODS))

bench-dashboard: tools ## a workload's metrics dashboard (inbound + outbound, per cluster) at 200 namespaces over east + west: p50/p95 end to end and the Prometheus queries sent, beside Kiali's 44; SERVER_BIN=<binary> skips the release build
	$(if $(SERVER_BIN),,$(CARGO) build --locked --release -q -p meshglass-server)
	$(CARGO) run --locked --release -q -p meshglass-testbed --example dashboard_bench -- $(if $(SERVER_BIN),--server-bin $(SERVER_BIN))

bench-metrics-store: tools ## graph p50/p95 at 1 and 50 namespaces via Thanos Query (a sidecar beside each cluster's Prometheus) and via the plain Prometheus, in one run
	$(CARGO) build --locked --release -q -p meshglass-server
	$(CARGO) run --locked --release -q -p meshglass-testbed --example server_bench -- --thanos --namespaces 50 --pods 0 --rounds $(or $(ROUNDS),40)

bench-ui: prereqs ui ## the graph page in headless Chromium on synthetic graphs of 1,000/3,000/5,000 nodes (3 edges per node; a stand-in server, no clusters): navigation → drawn (above 500 nodes with the namespace boxes collapsed), expand all → drawn, refresh → drawn, select, zoom, pan on the whole graph, p50/p95 over RUNS loads (default 5); SIZES=50,1000 other sizes; PROFILE=1 also writes CPU profiles
	cd api-server/ui && node scripts/bench-graph.mjs $(if $(SIZES),--sizes $(SIZES)) $(if $(RUNS),--runs $(RUNS)) $(if $(PROFILE),--profile)

bench-operator: tools ## operator figures at NAMESPACES (default 2000) namespaces selected by a cluster_wide_access=false CR: CR created -> Successful (a Role + RoleBinding each), a spec change -> Successful, delete -> gone, peak RSS (VmHWM)
	$(CARGO) run --locked --release -q -p meshglass-testbed --example operator_bench -- --namespaces $(or $(NAMESPACES),2000)

compare-server: tools ## every recorded route of the test bed answered by BASELINE=<binary> and by this tree's server: same status and bytes (graphs: same JSON)
	@test -n "$(BASELINE)" || { echo "compare-server: set BASELINE=<path of the meshglass-server to compare with>"; exit 2; }
	$(CARGO) build --locked --release -q -p meshglass-server
	$(CARGO) run --locked --release -q -p meshglass-testbed --example server_compare -- --baseline-bin $(BASELINE)
