# cusax-bridge. Set-up on a fresh machine: `make run`, `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: run build test test-short vet bench bench-load fuzz clean

## run: build bin/bridge and run it on its embedded defaults (or CONFIG=bridge.yaml);
## Ctrl-C (SIGINT) hangs every call up and ends it with exit status 0
run: build
	exec bin/bridge serve $(if $(CONFIG),--config $(CONFIG))

## build: build bin/bridge, a static binary (CGO_ENABLED=0: the SQLite driver is pure Go), with
## the same flags as deploy/container/Containerfile
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/bridge ./cmd/bridge

## test: vet, gofmt check, and every test (unit, fuzz seeds, e2e with sipp and Prosody) under the race detector
test: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test -race -count=1 -timeout 20m ./...

## test-short: unit tests only (no e2e)
test-short:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

vet:
	$(GO) vet ./...

## bench: the benchmarks whose figures the README reports
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./mixer/... ./confinfo/... ./store/... ./focus/... ./muc/... ./xmppserver/...

## bench-load: the load benchmark (README, Performance): N callers, PER_ROOM per room, TALKERS talkers per
## room, against the bridge and the bare RTP reflector; the bridge pinned to BRIDGE_CPUS and the generator to
## GEN_CPUS (taskset; empty = no pinning). Table on stdout, JSON in BENCH_JSON. BENCH_NICE=-10 runs it all
## at that niceness (root), to measure on a machine other work keeps busy.
N          ?= 1000
PER_ROOM   ?= 10
TALKERS    ?= 2
DURATION   ?= 15s
RATE       ?= 250
BRIDGE_CPUS ?= 0
GEN_CPUS   ?= 1
BENCH_JSON ?= bench-load.json
LOAD_FLAGS ?=
MODE       ?=
BENCH_NICE ?=
bench-load: build
	$(if $(BENCH_NICE),nice -n $(BENCH_NICE)) $(if $(GEN_CPUS),taskset -c $(GEN_CPUS)) bin/bridge loadtest -n $(N) -per-room $(PER_ROOM) -talkers $(TALKERS) \
	  -duration $(DURATION) -rate $(RATE) -cpus '$(BRIDGE_CPUS)' -json $(BENCH_JSON) $(if $(MODE),-rtp-mode $(MODE)) $(LOAD_FLAGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
