# zabd: make run starts a standalone server on 127.0.0.1:2181 with data
# under ./data; make cluster a local 3-node ensemble under ./cluster
# (scripts/cluster.sh); make test runs every test. See README.md.
GO ?= go
BIN := bin
GOFLAGS_TEST ?=
TEST_TIMEOUT ?= 40m

.PHONY: all build run cluster cluster-stop cluster-status cluster-clean test test-short vet fmt bench fuzz clean

all: build

# -buildvcs=auto: record the commit (zabd --version, srvr) even where GOFLAGS turns it off.
build:
	$(GO) build -buildvcs=auto -o $(BIN)/zabd ./cmd/zabd
	$(GO) build -buildvcs=auto -o $(BIN)/zabctl ./cmd/zabctl

run: build
	mkdir -p data
	./$(BIN)/zabd --client-addr 127.0.0.1:2181 --data-dir ./data --engine native

# A local 3-node ensemble on 127.0.0.1 (clients on 2181-2183, quorum ports
# 2888-2890, election ports 3888-3890), each node's zoo.cfg, data, log and
# pid under ./cluster/N; the data survives cluster-stop, cluster-clean
# removes it. Settings (ENGINE, TICK_TIME, ...): see scripts/cluster.sh.
cluster:
	./scripts/cluster.sh start

cluster-stop:
	./scripts/cluster.sh stop

cluster-status:
	./scripts/cluster.sh status

cluster-clean:
	./scripts/cluster.sh clean

test: vet
	$(GO) test -race $(GOFLAGS_TEST) -timeout $(TEST_TIMEOUT) ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The side-by-side suite: zabd (each engine) and Apache ZooKeeper 3.8 in one
# run; writes a dated report with plots under bench/results/.
BENCH_REPEAT ?= 3
BENCH_ENGINES ?= native
BENCH_RECOVERY_ZNODES ?= 200000
BENCH_LARGE_TREE ?= 1000000
bench: build
	./$(BIN)/zabctl bench suite --zabd $(BIN)/zabd --engines $(BENCH_ENGINES) --repeat $(BENCH_REPEAT) \
		--recovery-znodes $(BENCH_RECOVERY_ZNODES) --large-tree $(BENCH_LARGE_TREE) --out bench/results

clean:
	rm -rf $(BIN)
