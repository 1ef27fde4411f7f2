GO      ?= go
BIN     := bin/memsnap
PKGS    := ./...
RUNS    ?= 1000
# CGO is required by go-kuzu; libkuzu.so ships inside the pinned module.
export CGO_ENABLED := 1

.PHONY: all build deps demo test test-short crashtest bench lint fmt clean

all: build

deps:
	$(GO) mod download

build: deps
	$(GO) build -o $(BIN) ./cmd/memsnap

# The main job on an embedded store in a fresh temporary directory.
demo: build
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && ./$(BIN) --store "$$dir/store" demo

test: deps
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Long crash loop: many more kill -9 runs than make test does.
crashtest: deps
	$(GO) test -race -count=1 -timeout 90m -run 'TestCrash' ./tests -crash.runs=$(RUNS) -v

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime=3x -count=1 -timeout 30m ./writer ./reader ./tests

lint: deps
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS); fi

fmt:
	gofmt -w .

clean:
	rm -rf bin
