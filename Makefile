GO      ?= go
BIN     := bin/memsnap
PKGS    := ./...
RUNS    ?= 1000
# memsnap's version, linked into internal/buildinfo (manifests, MCP, 'memsnap version').
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# CGO is required by go-kuzu; libkuzu.so ships inside the pinned module.
export CGO_ENABLED := 1

.PHONY: versitygw versitygw-for-test all build deps demo install dist dist-windows windows mingw mingw-for-test patchelf chromium screenshot test test-short wintest wintools wintest-overlay crashtest soak-batch fuzz bench bench-full gobench reference reference-for-test refsuite refsuite-deps refsuite-for-test inspect lint fmt clean

all: build

deps:
	$(GO) mod download

# go build -v names each package as it compiles it; the build numbers them
# against the packages memsnap is made of. The first build (an empty Go
# cache) compiles them all, go-kuzu's cgo bindings among them, for several
# minutes; later builds compile what changed, in seconds. go build's exit
# status passes through the numbering pipe in bin/.build-status.
LDFLAGS := -X github.com/memsnap/memsnap/internal/buildinfo.Version=$(VERSION)
build: deps
	@mkdir -p $(dir $(BIN)); total=$$($(GO) list -deps ./cmd/memsnap | wc -l | tr -d ' '); \
	  echo "building $(BIN): $$total packages; the first build (an empty Go cache) takes several minutes, each package is listed as it compiles"; \
	  { $(GO) build -v -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/memsnap 2>&1; echo $$? > $(dir $(BIN)).build-status; } | \
	    awk -v total=$$total '/^[A-Za-z0-9._~\/-]+$$/ { n++; printf "  [%d/%d] %s\n", n, total, $$0; next } { print }'; \
	  status=$$(cat $(dir $(BIN)).build-status); rm -f $(dir $(BIN)).build-status; \
	  [ "$$status" = 0 ] || { echo "make build: go build failed (exit $$status)"; exit 1; }; echo "built $(BIN)"

# A relocatable install: PREFIX/bin/memsnap finds libkuzu.so in
# PREFIX/lib/memsnap through a RUNPATH relative to itself ($ORIGIN), so the
# tree can be moved or copied anywhere and the Go module cache removed. cgo
# links go-kuzu with an absolute RUNPATH into the module cache; patchelf
# (Debian's package) replaces it.
PREFIX  ?= $(HOME)/.local
KUZULIB  = $(shell $(GO) list -m -f '{{.Dir}}' github.com/kuzudb/go-kuzu)/lib/dynamic/linux-amd64/libkuzu.so
DISTDIR := dist

# make wintest: Windows test binaries (GOOS=windows, cgo with mingw-w64) of
# WINTEST_PKGS, each run under Wine in its package directory as go test
# would, with -test.v output; the target fails if any package fails. Wine 8.0
# and mingw-w64 come from Debian (installed when missing). The Wine prefix and
# the test binaries live in .wine/ (ignored by git; rm -rf .wine starts again);
# go-kuzu's kuzu_shared.dll is copied beside the test binaries.
# Two Wine 8.0 gaps are bridged, for these test binaries only:
# - a Go binary aborts at start without bcryptprimitives.dll (ProcessPrng): a
#   stand-in built from testdata/wine/ goes into the prefix's system32;
# - Go 1.26's os.RemoveAll (and so t.TempDir's cleanup, and every RemoveAll of
#   the product) fails ("unlinkat ...: Invalid function"): it deletes with
#   FileDispositionInformationEx (Windows 10 1607+), which Wine 8.0 answers
#   with STATUS_NOT_IMPLEMENTED, a status Go does not fall back on. With
#   WINTEST_OVERLAY=1 (the default) the build's -overlay adds that status to
#   the list in Go's internal/syscall/windows/at_windows.go that takes Go's own
#   fallback (the classic delete of older Windows and FAT32). Files deleted
#   there disappear when their last handle closes, not at once as with the
#   POSIX semantics of real Windows 10. WINTEST_OVERLAY= builds with Go as it
#   is (internal/testutil.TempDir still cleans up; tests skip what needs it).
# WINTEST_PKGS lists the packages whose tests build for Windows and pass under
# Wine (tests that Wine cannot serve skip, saying why: a symlink, which Wine
# 8.0 reports made and does not make; a Kuzu error raised during query
# execution, which ends the process under Wine); WINTEST_RUN=regexp passes
# -test.run. Runs share one wineserver (each stops it at the end): run one
# make wintest at a time. Each binary has -test.timeout=20m, and Wine itself
# is stopped after 25m should it hang. For ./tests (black-box tests of the
# binary) a Windows memsnap.exe with the failpoints tag is built first and
# passed as -memsnap.binary: Wine has no Go toolchain to build one.
WINTEST_PKGS ?= ./internal/testutil ./internal/kvstore ./internal/model ./internal/graphindex ./internal/schedule ./internal/buildinfo \
                ./cmd/memsnap/internal/oneline ./cmd/memsnap/internal/linerpc ./cmd/memsnap/internal/connguard \
                ./internal/filelock ./internal/queue ./internal/fsutil ./internal/sysinfo ./config ./snapshot \
                ./internal/graphdb ./writer ./reader ./reader/queryworker ./cmd/memsnap ./cmd/memsnap/internal/mcpserver ./tests
WINTEST_FLAGS ?= -test.v -test.count=1 -test.timeout=20m $(if $(WINTEST_RUN),-test.run '$(WINTEST_RUN)')
# Of ./tests (the black-box tests of the binary), the multi-process checks of
# Windows' file rules run under Wine: the writer lock held, refused naming its
# holder and released when the holder is killed; readers querying through 20+
# commits; a publish while two readers hold CURRENT and their snapshot open;
# GC deferring open snapshots; an MCP server killed and restarted 20 times.
# The others are not run there yet (many kill at failpoints with signals, read
# /proc, or mount a small file system); WINTEST_RUN overrides this list.
WINTEST_TESTS ?= ^(TestWriterLock|TestManyProcesses|TestPublishWhileReadersHoldFiles|TestGCDefersOpenSnapshots|TestMCPServerKilledAndRestarted|TestStorePathWithSpacesAndAccents)$$
WINTEST_OVERLAY ?= 1
WINE          ?= $(firstword $(shell command -v wine64 2>/dev/null) $(wildcard /usr/lib/wine/wine64) wine)
WINCC         ?= x86_64-w64-mingw32-gcc
WINDRES       ?= x86_64-w64-mingw32-windres
WINRES        := cmd/memsnap/rsrc_windows_amd64.syso
WINEDIR       := $(CURDIR)/.wine
WINEBIN       := $(WINEDIR)/bin
WINE_ENV       = WINEPREFIX="$(WINEDIR)/prefix" WINEDEBUG=-all WINEARCH=win64 $(if $(WINTEST_OVERLAY),MEMSNAP_TEST_WINE_OVERLAY=1)
WINGO          = CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(WINCC) $(GO)
WINGO_AT       = $(shell $(GO) env GOROOT)/src/internal/syscall/windows/at_windows.go
KUZUDLL        = $(shell $(GO) list -m -f '{{.Dir}}' github.com/kuzudb/go-kuzu)/lib/dynamic/windows/kuzu_shared.dll

wintools:
	@{ command -v wine64 >/dev/null || [ -x /usr/lib/wine/wine64 ]; } && command -v wineboot >/dev/null && command -v $(WINCC) >/dev/null || { \
	  echo "installing wine64, wine and gcc-mingw-w64-x86-64 (Debian packages) for make wintest"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get install -y -qq wine64 wine gcc-mingw-w64-x86-64 >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq wine64 wine gcc-mingw-w64-x86-64 >/dev/null; }; }

$(WINEDIR)/bcryptprimitives.dll: testdata/wine/bcryptprimitives.c testdata/wine/bcryptprimitives.def | wintools
	@mkdir -p $(WINEDIR)
	$(WINCC) -shared -O2 -o $@ $^ -ladvapi32

# The prefix, made once (wineboot -i), with the stand-in DLL in system32.
$(WINEDIR)/prefix/drive_c/windows/system32/bcryptprimitives.dll: $(WINEDIR)/bcryptprimitives.dll
	@[ -f $(WINEDIR)/prefix/system.reg ] || { echo "creating the Wine prefix in $(WINEDIR)/prefix"; \
	  $(WINE_ENV) wineboot -i >$(WINEDIR)/wineboot.log 2>&1 || { cat $(WINEDIR)/wineboot.log; exit 1; }; }
	cp $< $@

# The overlay (see above): one line added after Go's first fallback status; it
# fails, rather than builds without it, if that line is no longer there.
wintest-overlay:
	@mkdir -p $(WINEDIR)/overlay
	@sed 's|^\tcase STATUS_INVALID_INFO_CLASS, // the operating system.*|&\n\t\tNTStatus(0xC0000002), // STATUS_NOT_IMPLEMENTED: Wine 8.0 (make wintest overlay)|' \
	  "$(WINGO_AT)" > $(WINEDIR)/overlay/at_windows.go
	@grep -q 'NTStatus(0xC0000002)' $(WINEDIR)/overlay/at_windows.go || { \
	  echo "make wintest: $(WINGO_AT) changed; update the Makefile's overlay, or run with WINTEST_OVERLAY= (os.RemoveAll fails under Wine 8.0)"; exit 1; }
	@printf '{"Replace":{"%s":"%s"}}\n' "$(WINGO_AT)" "$(WINEDIR)/overlay/at_windows.go" > $(WINEDIR)/overlay.json

wintest: deps wintools $(WINEDIR)/prefix/drive_c/windows/system32/bcryptprimitives.dll $(if $(WINTEST_OVERLAY),wintest-overlay) $(WINRES)
	@mkdir -p $(WINEBIN); cp -f "$(KUZUDLL)" $(WINEBIN)/ 2>/dev/null; chmod u+w $(WINEBIN)/*.dll 2>/dev/null; \
	  failed=; \
	  for pkg in $(WINTEST_PKGS); do \
	    exe=$(WINEBIN)/$$(echo "$${pkg#./}" | tr / _).test.exe; dir=$$($(GO) list -f '{{.Dir}}' $$pkg) || { failed="$$failed $$pkg"; continue; }; \
	    echo "== $$pkg: building $$exe"; start=$$(date +%s); \
	    rm -f $$exe; if ! $(WINGO) test -c $(if $(WINTEST_OVERLAY),-overlay $(WINEDIR)/overlay.json) -o $$exe $$pkg; then \
	      echo "== $$pkg: FAIL (does not build for Windows)"; failed="$$failed $$pkg"; continue; fi; \
	    [ -f $$exe ] || { echo "== $$pkg: no test files"; continue; }; \
	    extra=; if [ "$$pkg" = ./tests ]; then \
	      echo "== $$pkg: building $(WINEBIN)/memsnap.exe (-tags memsnap_failpoints) for the black-box tests"; \
	      if ! $(WINGO) build -tags memsnap_failpoints $(if $(WINTEST_OVERLAY),-overlay $(WINEDIR)/overlay.json) -o $(WINEBIN)/memsnap.exe ./cmd/memsnap; then \
	        echo "== $$pkg: FAIL (memsnap.exe does not build)"; failed="$$failed $$pkg"; continue; fi; \
	      extra="-memsnap.binary=$$($(WINE_ENV) winepath -w $(WINEBIN)/memsnap.exe)"; \
	      $(if $(WINTEST_RUN),,extra="$$extra -test.run=$(WINTEST_TESTS)";) fi; \
	    built=$$(date +%s); \
	    if (cd "$$dir" && $(WINE_ENV) timeout -k 30s 25m $(WINE) $$exe $(WINTEST_FLAGS) $$extra); then result=ok; else result=FAIL; failed="$$failed $$pkg"; fi; \
	    echo "== $$pkg: $$result under Wine (build $$((built-start))s, run $$(($$(date +%s)-built))s)"; \
	  done; \
	  $(WINE_ENV) wineserver -k 2>/dev/null; \
	  if [ -n "$$failed" ]; then echo "make wintest: failed under Wine:$$failed"; exit 1; fi; \
	  echo "make wintest: every package passed under Wine: $(WINTEST_PKGS)"

# Debian's chromium, for the dashboard's browser test (TestDashboardInBrowser
# skips, saying why, where there is none).
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { echo "installing chromium (Debian package) for the dashboard test"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get install -y -qq chromium >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq chromium >/dev/null; }; } \
	  || echo "could not install chromium: TestDashboardInBrowser will skip"

patchelf:
	@command -v patchelf >/dev/null || { echo "installing patchelf (Debian package)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq patchelf >/dev/null; else sudo apt-get install -y -qq patchelf >/dev/null; fi; }

# install copies bin/memsnap (make build: nothing is compiled again when it
# is fresh) and ends by printing the MCP client configuration with the
# installed binary's absolute path: editors started from a desktop often do
# not have PREFIX/bin on their PATH ("spawn memsnap ENOENT").
INSTALLED = $(abspath $(PREFIX))/bin/memsnap
install: build patchelf
	@mkdir -p "$(PREFIX)/bin" "$(PREFIX)/lib/memsnap"
	cp -f $(BIN) "$(PREFIX)/bin/memsnap.new"
	patchelf --set-rpath '$$ORIGIN/../lib/memsnap' "$(PREFIX)/bin/memsnap.new"
	install -m 0644 "$(KUZULIB)" "$(PREFIX)/lib/memsnap/libkuzu.so"
	mv -f "$(PREFIX)/bin/memsnap.new" "$(PREFIX)/bin/memsnap"
	@echo "installed $(INSTALLED) (Kuzu library in $(abspath $(PREFIX))/lib/memsnap)"
	@cmd=$$(printf '%s' "$(INSTALLED)" | sed 's/\\/\\\\/g; s/"/\\"/g'); \
	  printf '\nMCP client configuration (the absolute path works whatever PATH the client has):\n'; \
	  printf '\nClaude Desktop (~/.config/Claude/claude_desktop_config.json):\n{\n  "mcpServers": {\n    "memory": {\n      "command": "%s",\n      "args": ["mcp"]\n    }\n  }\n}\n' "$$cmd"; \
	  printf '\nVS Code (.vscode/mcp.json in a workspace, or the user mcp.json):\n{\n  "servers": {\n    "memory": {\n      "type": "stdio",\n      "command": "%s",\n      "args": ["mcp"]\n    }\n  }\n}\n' "$$cmd"

# memsnap-VERSION-linux-amd64.tar.gz: bin/memsnap and lib/memsnap/libkuzu.so,
# the layout of 'make install'; and memsnap-VERSION-windows-amd64.zip (see
# dist-windows).
dist: build patchelf
	@rm -rf "$(DISTDIR)/memsnap-$(VERSION)-linux-amd64"
	$(MAKE) --no-print-directory install PREFIX="$(CURDIR)/$(DISTDIR)/memsnap-$(VERSION)-linux-amd64"
	tar -C "$(DISTDIR)" -czf "$(DISTDIR)/memsnap-$(VERSION)-linux-amd64.tar.gz" "memsnap-$(VERSION)-linux-amd64"
	@echo "$(DISTDIR)/memsnap-$(VERSION)-linux-amd64.tar.gz"
	$(MAKE) --no-print-directory dist-windows

# Windows amd64, cross-built with cgo through mingw (Debian's
# gcc-mingw-w64-x86-64, installed when missing). go-kuzu links
# kuzu_shared.dll through its import library; the DLL must sit beside
# memsnap.exe, and it needs the Microsoft Visual C++ 2015-2022
# Redistributable (x64): MSVCP140, VCRUNTIME140 and VCRUNTIME140_1.
# (WINCC, WINGO and KUZUDLL are set with make wintest's variables above.)
MINGW    = $(WINCC)
WINBIN  := bin/memsnap.exe

mingw:
	@command -v $(MINGW) >/dev/null || { echo "installing gcc-mingw-w64-x86-64 (Debian package) for the Windows cross-build"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null; }; }

# make test's Windows cross-check (internal/lint TestVetsForWindows) skips,
# saying why, when mingw could not be installed.
mingw-for-test:
	@$(MAKE) --no-print-directory mingw || echo "could not install mingw: TestVetsForWindows will skip"

# memsnap.exe's manifest (UTF-8 as the process code page, which Kuzu's
# CreateFileA needs for a path outside the ANSI code page), compiled into a
# .syso that go build links into windows/amd64 builds of cmd/memsnap.
$(WINRES): cmd/memsnap/winres/memsnap.rc cmd/memsnap/winres/memsnap.exe.manifest | mingw
	$(WINDRES) -O coff --include-dir cmd/memsnap/winres -i cmd/memsnap/winres/memsnap.rc -o $@

windows: deps mingw $(WINRES)
	$(WINGO) build -ldflags "-X github.com/memsnap/memsnap/internal/buildinfo.Version=$(VERSION)" -o $(WINBIN) ./cmd/memsnap
	install -m 0644 "$(KUZUDLL)" bin/kuzu_shared.dll
	@file $(WINBIN)

# memsnap-VERSION-windows-amd64.zip: a folder memsnap\ with memsnap.exe and
# kuzu_shared.dll beside it (extracted into %LOCALAPPDATA%\Programs it gives
# the path the README's client configuration shows).
WINSTAGE = $(DISTDIR)/windows-amd64
dist-windows: windows
	@command -v zip >/dev/null || { echo "installing zip (Debian package)"; sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; $$sudo apt-get install -y -qq zip >/dev/null; }
	@rm -rf "$(WINSTAGE)" "$(DISTDIR)/memsnap-$(VERSION)-windows-amd64.zip"
	@mkdir -p "$(WINSTAGE)/memsnap"
	install -m 0755 $(WINBIN) "$(WINSTAGE)/memsnap/memsnap.exe"
	install -m 0644 "$(KUZUDLL)" "$(WINSTAGE)/memsnap/kuzu_shared.dll"
	cd "$(WINSTAGE)" && zip -q -r "$(abspath $(DISTDIR))/memsnap-$(VERSION)-windows-amd64.zip" memsnap
	@rm -rf "$(WINSTAGE)"
	@echo "$(DISTDIR)/memsnap-$(VERSION)-windows-amd64.zip"

# The main job on an embedded store in a fresh temporary directory (memsnap demo makes and removes it).
demo: build
	@./$(BIN) demo

# gotestsum runs go test and keeps its JSON report, from which the slowest
# tests are printed after every run (pass or fail).
GOTESTSUM := $(GO) run gotest.tools/gotestsum@v1.13.0
TESTJSON  ?= test-report.json

# versitygw (Apache-2.0), the S3-compatible server the replication tests
# start on loopback with its posix backend: built from source with go
# install into .tools/bin (ignored by git); internal/testutil.StartS3
# finds it there. The stamp names the version, so a new one installs again.
VERSITYGW_VERSION ?= v1.8.0
TOOLS_BIN := $(CURDIR)/.tools/bin
$(TOOLS_BIN)/.versitygw-$(VERSITYGW_VERSION):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@touch $@

versitygw: $(TOOLS_BIN)/.versitygw-$(VERSITYGW_VERSION)

# make test's replication tests skip, saying why, when versitygw could not
# be built.
versitygw-for-test:
	@$(MAKE) --no-print-directory versitygw || echo "could not build versitygw: the replication tests will skip"

test: deps patchelf chromium mingw-for-test reference-for-test refsuite-for-test versitygw-for-test
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	@$(GOTESTSUM) --format pkgname-and-test-fails --jsonfile $(TESTJSON) -- -race -count=1 -timeout 60m $(PKGS); \
	  status=$$?; echo "slowest tests (over 10s):"; \
	  $(GOTESTSUM) tool slowest --jsonfile $(TESTJSON) --threshold 10s | head -n 15; exit $$status

# The unit packages with -short, without -race (every package but tests/,
# whose black-box tests build the binary and run many processes): a quick
# check before make test, which runs them all with -race.
SHORT_PKGS = $(shell $(GO) list ./... | grep -v '/tests$$')
test-short: deps
	$(GO) vet $(SHORT_PKGS)
	$(GO) test -short -count=1 -timeout 10m $(SHORT_PKGS)

# docs/dashboard.png (an entity's page), docs/dashboard-entities.png and
# docs/dashboard-graph.png, from the browser tests' headless Chromium.
screenshot: deps chromium
	$(GO) test -count=1 -run 'TestDashboardInBrowser|TestDashboardBrowseInBrowser' ./tests -dashboard.screenshots=$(CURDIR)/docs

# Long crash loop: RUNS iterations of SIGKILLs (make test runs 30), its table
# written to crashtest-report.md for docs/RELIABILITY.md. COMPETE=1 runs the
# competing-writers soak for 2 minutes (make test runs it for 2 seconds).
crashtest: deps
	$(GO) test -count=1 -timeout 90m -run 'TestCrashLoop|TestCompetingWriters' ./tests \
	  -crash.loop=$(RUNS) -crash.report=$(CURDIR)/crashtest-report.md $(if $(COMPETE),-compete=2m) -v

# TestBatchEqualsSequence over SEEDS random job sequences (make test runs 3).
SEEDS ?= 50
soak-batch: deps
	$(GO) test -count=1 -timeout 90m -run 'TestBatchEqualsSequence' ./writer -batch.seeds=$(SEEDS) -v

# Each fuzz target in turn for FUZZTIME (the seed corpora alone run in make test).
FUZZTIME ?= 10m
FUZZ_TARGETS := internal/model:FuzzDecodeJob reader:FuzzCheckReadOnly snapshot:FuzzParseManifest snapshot:FuzzParseCurrent
fuzz: deps
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t#*:}; \
	  echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 1 ./$$pkg; done

# The benchmark harness, short run (a few minutes): real processes, figures
# side by side with direct Kuzu use and the disk's limits. BENCH_FLAGS adds
# flags, e.g. BENCH_FLAGS="--json" or BENCH_FLAGS="--only apply,swap".
# bench-full is the run docs/BENCHMARKS.md records; gobench runs the Go micro-benchmarks.
bench: build
	./$(BIN) bench --quick $(BENCH_FLAGS)

bench-full: build
	./$(BIN) bench $(BENCH_FLAGS)

# The reference MCP memory server, for the mcp benchmark's side-by-side column:
# installed with npm into .reference/ (ignored by git); 'memsnap bench' finds
# it there (or at MEMSNAP_BENCH_REFERENCE / --reference).
REFERENCE_PKG ?= @modelcontextprotocol/server-memory@2026.8.31
reference:
	@command -v npm >/dev/null || { echo "make reference: npm not found (install Node.js 18+)"; exit 1; }
	mkdir -p .reference
	npm install --prefix .reference --no-save --no-audit --no-fund --loglevel=error $(REFERENCE_PKG)
	@test -f .reference/node_modules/@modelcontextprotocol/server-memory/dist/index.js && \
	  echo "reference server: .reference/node_modules/@modelcontextprotocol/server-memory/dist/index.js"

# make test's comparison of the MCP tools' output schemas with the
# reference server's own tools/list (tests TestOutputSchemasMatchReference)
# runs it with node from .reference/: installed here when missing (npm from
# Debian's nodejs and npm packages when there is none); the test skips,
# saying why, when that fails.
reference-for-test:
	@[ -f .reference/node_modules/@modelcontextprotocol/server-memory/dist/index.js ] && command -v node >/dev/null || { \
	  command -v npm >/dev/null || { echo "installing nodejs and npm (Debian packages) for the reference server"; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get install -y -qq nodejs npm >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq nodejs npm >/dev/null; }; }; \
	  $(MAKE) --no-print-directory reference; } \
	  || echo "could not install the reference server: TestOutputSchemasMatchReference will skip"

# The reference server's own vitest suite
# (testdata/third_party/refsuite/__tests__, vendored unchanged from
# modelcontextprotocol/servers: the npm package holds only dist/) run
# against bin/memsnap through the official TypeScript MCP client; see
# testdata/third_party/refsuite/README.md. Prints the passed, failed and
# excluded (not applicable) counts; fails on any failure. Its npm packages,
# pinned by testdata/third_party/refsuite/package-lock.json, go into
# .refsuite/ (ignored by git), installed again when the lock file changes.
# make test runs the same suite as TestReferenceSuite (tests/refsuite_test.go).
REFSUITE_DIR := .refsuite
$(REFSUITE_DIR)/installed: testdata/third_party/refsuite/package.json testdata/third_party/refsuite/package-lock.json
	@command -v npm >/dev/null || { echo "make refsuite: npm not found (install Node.js 20+)"; exit 1; }
	@mkdir -p $(REFSUITE_DIR)
	cp testdata/third_party/refsuite/package.json testdata/third_party/refsuite/package-lock.json $(REFSUITE_DIR)/
	npm ci --prefix $(REFSUITE_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

refsuite-deps: $(REFSUITE_DIR)/installed

refsuite: build refsuite-deps
	testdata/third_party/refsuite/run.sh $(BIN) $(REFSUITE_DIR)/node_modules $(REFSUITE_DIR)/report.json

# make test's TestReferenceSuite needs node and the packages above: installed
# here when missing (npm from Debian's nodejs and npm packages when there is
# none); the test skips, saying why, when that fails.
refsuite-for-test:
	@command -v npm >/dev/null || { echo "installing nodejs and npm (Debian packages) for the reference suite"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get install -y -qq nodejs npm >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$sudo apt-get install -y -qq nodejs npm >/dev/null; }; } \
	  && $(MAKE) --no-print-directory refsuite-deps \
	  || echo "could not install the reference suite's npm packages: TestReferenceSuite will skip"

# MCP Inspector's strict check of the tools' schemas (tools/list --strict:
# type unions, schemas that constrain nothing, remote refs), on memsnap mcp;
# fails on any finding, error or warning (the reference server has none).
# The inspector is installed with npm into .reference/inspector/.
INSPECTOR_PKG ?= @modelcontextprotocol/inspector@2.12.0
inspect: build
	@command -v npm >/dev/null || { echo "make inspect: npm not found (install Node.js 18+)"; exit 1; }
	@mkdir -p .reference/inspector
	npm install --prefix .reference/inspector --no-save --no-audit --no-fund --loglevel=error $(INSPECTOR_PKG)
	@dir=$$(mktemp -d); ./$(BIN) --store $$dir/store --log-level error init >/dev/null && \
	  .reference/inspector/node_modules/.bin/mcp-inspector --cli --strict --method tools/list -- \
	    $(CURDIR)/$(BIN) --store $$dir/store --log-level error mcp >/dev/null 2>$$dir/findings; status=$$?; \
	  cat $$dir/findings; grep -q '^\(Warning\|Error\)' $$dir/findings && status=1; rm -rf $$dir; \
	  if [ $$status -ne 0 ]; then echo "make inspect: findings above"; exit 1; fi; \
	  echo "make inspect: no finding"

gobench: deps
	$(GO) test -run '^$$' -bench . -benchtime=3x -count=1 -timeout 30m ./writer ./reader ./tests

lint: deps
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS); fi

fmt:
	gofmt -w .

clean:
	rm -rf bin dist
