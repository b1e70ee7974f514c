#!/usr/bin/env bash
# RPC benchmark: unary calls over loopback through OMSRPC (RPCServer + RPCClient, protobuf frames,
# routing, auth, metrics) side by side with a bare SwiftNIO length-prefixed echo server/client, in
# the same process and run; 1 and 64 concurrent callers on one connection.
#
#   tools/bench-rpc.sh                      # 200,000 calls per measurement, best of 3 rounds
#   OMS_BENCH_CALLS=500000 OMS_BENCH_ROUNDS=5 tools/bench-rpc.sh
#
# Builds the tests in release mode (with -enable-testing for @testable imports) and runs the
# OMS_BENCH-guarded test Tests/OMSRPCTests/RPCBenchmark.swift. Figures go to stdout and to
# $OMS_BENCH_OUT (default .build/bench-rpc.txt). Method: docs/benchmarks.md.
#
# The handler-execution comparison (.eventLoop vs .immediate, plain and storage-waiting handlers)
# is the same file's other test: after this script has built, run
#   OMS_BENCH=1 OMS_BENCH_MODES_OUT=.build/bench-rpc-modes.txt \
#     swift test -c release --skip-build -Xswiftc -enable-testing --filter 'RPCBenchmark/handlerExecution'
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export OMS_BENCH=1
export OMS_BENCH_OUT="${OMS_BENCH_OUT:-$ROOT/.build/bench-rpc.txt}"
swift build -c release --build-tests -Xswiftc -enable-testing
swift test -c release --skip-build -Xswiftc -enable-testing --filter 'OMSRPCTests.RPCBenchmark/unary'
echo "--- summary ($OMS_BENCH_OUT)"
cat "$OMS_BENCH_OUT"
