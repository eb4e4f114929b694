#!/usr/bin/env bash
# The KV cache's element types (--cache-type-k/-v): f16/f16, the default (q8_0 keys, f16 values), q8_0/q8_0 and
# q4_0/q4_0 on the synthetic 125M Q8_0 model: the KV bytes of a 16,384-cell context (inferenceserver_kv_cache_bytes),
# how many 4,096-token conversations that makes fit in 2 GiB, the decode speed at 1 and 16 streams (streamed chat,
# 128 tokens, ignore_eos), and one stream past 256 tokens (a 400-word prompt: its TTFT and decode speed).
# Writes docs/bench/kv-cache/*.json and the "Quantised KV cache" section of docs/benchmarks.md (about 7 minutes).
# Usage: [THREADS=N] bash loadtests/kv-cache-bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtests/bench-common.sh
scale=4; [ "${1:-}" = --quick ] && scale=1
threads=${THREADS:-$(nproc)}
out=docs/bench/kv-cache
port=18091
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt
git rev-parse --short HEAD >"$out/commit.txt"
bench_prepare
trap stop_server EXIT

for types in f16/f16 q8_0/f16 q8_0/q8_0 q4_0/q4_0; do
  type=${types/\//-}
  start_server_cmd "$out/server-$type.log" dotnet "$server_dll" -m "$synthetic" --port $port -c 16384 -np 16 -t "$threads" \
    --cache-type-k ${types%/*} --cache-type-v ${types#*/}
  curl -s "http://127.0.0.1:$port/metrics" | grep '^inferenceserver_kv_cache_bytes' | awk '{print $NF}' >"$out/kv-bytes-$type.txt"
  for run in c1:1:32 c16:16:32 long:1:400; do
    IFS=: read -r label c words <<<"$run"
    echo "== $types, $c stream(s), $words words in"
    dotnet "$loadgen_dll" --base-url "http://127.0.0.1:$port/v1" --no-progress --seed 1 \
      --workload random --input-len $words --output-len 128 --concurrency $c --requests $(( c == 1 ? 2 * scale : 8 * scale )) \
      --out "$out/$type-$label.json" | tail -n 2
  done
  stop_server
done
python3 loadtests/kvcache_report.py "$out" docs/benchmarks.md
