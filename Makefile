# notifyctl: build, test and demonstrate.
#
#   make build   bin/notifyctl
#   make test    unit tests, then end-to-end tests on throwaway systemd hosts (root)
#   make demo    install the default plan on a throwaway systemd host, show it, uninstall it (root)

SHELL    := bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X github.com/notifyctl/notifyctl/pkg/cli.Version=$(VERSION) -X github.com/notifyctl/notifyctl/pkg/cli.Commit=$(COMMIT)
BIN      := bin/notifyctl

.PHONY: build test unit e2e lint demo bench clean fuzz testhost

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/notifyctl

lint:
	@out=$$(gofmt -l cmd pkg plans test); if [ -n "$$out" ]; then echo "not gofmt'ed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/...

# With the race detector: the install hashes large files in the background.
unit:
	$(GO) test -race -count=1 ./...

# End-to-end tests boot Debian hosts with systemd-nspawn: they need root.
# The first run installs systemd-nspawn and debootstrap and builds the cached
# base host (about a minute); later runs find both and go straight on.
testhost:
	scripts/testhost.sh base >/dev/null

e2e: build testhost
	NOTIFYCTL_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout 30m -v ./test/e2e/ 2>&1 | tee e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go'; exit $${PIPESTATUS[0]}

test: lint unit e2e

demo: build testhost
	scripts/demo.sh $(BIN)

clean:
	rm -rf bin e2e.log

# Medians measured on throwaway systemd hosts, next to the seeds' own approach (root).
bench: build testhost
	NOTIFYCTL_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./test/e2e/

# Man pages, generated from the commands: man/notifyctl.1, man/notifyctl-install.1, ...
man:
	rm -rf man
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/mangen man >/dev/null

# The Debian package, dist/notifyctl_VERSION_ARCH.deb: the binary, man pages and completions.
# Its binary reports the package's version (scripts/mkdeb.sh --print-version, from git describe).
DEB_VERSION ?= $(shell scripts/mkdeb.sh --print-version)

deb:
	$(MAKE) --no-print-directory build man VERSION=$(DEB_VERSION)
	scripts/mkdeb.sh -V $(DEB_VERSION) -o dist $(BIN) man

.PHONY: man deb

# Every fuzz target (go test -fuzz) for FUZZTIME each, one after the other; a
# failing input is saved under the package's testdata/fuzz/ (scripts/fuzz.sh).
FUZZTIME ?= 30s

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh
