# cusax-bridge. Set-up on a fresh machine: `make run`, `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: run build test test-short vet bench fuzz clean

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

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
