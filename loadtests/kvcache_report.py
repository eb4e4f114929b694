#!/usr/bin/env python3
"""Writes the "Quantised KV cache" section of docs/benchmarks.md from loadtests/kv-cache-bench.sh's results."""
import json, sys
from pathlib import Path
from report_section import replace_section

bench, target = Path(sys.argv[1]), Path(sys.argv[2])
CELLS, CONVERSATION, BUDGET = 16384, 4096, 2 * 1024 ** 3

def level(name):
    return json.loads((bench / f"{name}.json").read_text())["levels"][0]

first = json.loads((bench / "f16-f16-c1.json").read_text())
out = ["## Quantised KV cache: capacity and speed (synthetic 125M)\n",
       f"`bash loadtests/kv-cache-bench.sh` (about 7 minutes). Commit `{(bench / 'commit.txt').read_text().strip()}`, "
       f"{first['machine']['logical_cores']} logical cores ({first['machine']['cpu_model']}), {first['started_at'][:10]}. "
       "Server flags `-c 16384 -np 16 -t <cores> --cache-type-k K --cache-type-v V`; streamed chat, 32 words in, 128 "
       "tokens out; \"past 256\": one stream, 400 words in (about 530 tokens), 128 out. KV bytes: "
       "`inferenceserver_kv_cache_bytes` for the 16,384-cell context (12 layers, 4 KV heads of 64). Exact: greedy output "
       "independent of load and speculation (docs/determinism.md).\n",
       "| keys / values | exact | bytes per cell | KV for 16,384 cells | 4,096-token conversations in 2 GiB | 1 stream tok/s | 16 streams tok/s | past 256: TTFT p50 ms | past 256: tok/s |",
       "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
base = {}
for kv in ("f16-f16", "q8_0-f16", "q8_0-q8_0", "q4_0-q4_0"):
    total = int(float((bench / f"kv-bytes-{kv}.txt").read_text().split()[0]))
    per_cell = total // CELLS
    one, many, long = (level(f"{kv}-{run}") for run in ("c1", "c16", "long"))
    figures = {"one": one["output_token_throughput"], "many": many["output_token_throughput"],
               "ttft": long["ttft_ms"]["median"], "long": long["output_token_throughput"]}
    for key, value in figures.items(): base.setdefault(key, value)
    share = lambda key: f"{figures[key]:.1f} ({figures[key] / base[key]:.0%})"
    name = kv.replace("-", " / ") + (" (default)" if kv == "q8_0-f16" else "")
    out.append(f"| {name} | {'no' if kv == 'f16-f16' else 'yes'} | {per_cell:,} | {total / 2 ** 20:.0f} MiB | "
               f"{BUDGET // (per_cell * CONVERSATION)} | {share('one')} | {share('many')} | {share('ttft')} | {share('long')} |")
replace_section(target, "<!-- kv-cache: loadtests/kv-cache-bench.sh -->", "<!-- /kv-cache -->", "\n".join(out))
print(f"wrote the KV cache section of {target}")
