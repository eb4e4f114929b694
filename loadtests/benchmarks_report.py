#!/usr/bin/env python3
"""Builds docs/benchmarks.md from what loadtests/run-benchmarks.sh measured (docs/bench/*.json, ceiling-*.txt)."""
import json, re, subprocess, sys, statistics
from pathlib import Path

bench, target = Path(sys.argv[1]), Path(sys.argv[2])
def load(name):
    path = bench / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None

def ceiling(name):
    path = bench / f"ceiling-{name}.txt"
    rates = {}
    if path.exists():
        for line in path.read_text().splitlines():
            m = re.search(r": (\d+) stream\(s\) x \d+ tokens, \d+ threads: ([\d.]+) tokens/s", line)
            if m: rates[int(m.group(1))] = float(m.group(2))
    return rates

def p50(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")

commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
first = next((json.loads(p.read_text()) for p in sorted(bench.glob("*.json"))), None)
machine = first["machine"] if first else {"logical_cores": "?", "cpu_model": "?"}
date = first["started_at"][:10] if first else "?"
out = []
w = out.append
w("# Benchmarks\n")
w(f"Regenerate everything here with `bash loadtests/run-benchmarks.sh` (about 20 minutes on 2 cores). Commit `{commit}`, "
  f"{machine['logical_cores']} logical cores ({machine['cpu_model']}), {date}. Server flags: `-np 32 -t <cores>`; "
  "load from `loadtests/InferenceServer.LoadGen` (streaming chat, `ignore_eos`, seeded prompts) on the same machine, "
  "so client and server share the cores. Medians and ratios are from one run; the machine is noisy.\n")

def sweep(name, title, chart_dir, peer=None, ceiling_rates=None):
    data = load(name)
    if not data: return
    w(f"## {title}\n")
    w(f"`{data['command_line']}`\n")
    header = "| concurrency | req/s | output tok/s | TTFT p50 ms | TTFT p99 ms | TPOT p50 ms | ITL p99 ms |"
    sep = "| --- | --- | --- | --- | --- | --- | --- |"
    if peer: header += " llama-server tok/s |"; sep += " --- |"
    if ceiling_rates: header += " engine-only tok/s | server overhead |"; sep += " --- | --- |"
    w(header); w(sep)
    rates = {}
    for level in data["levels"]:
        c = level["concurrency"]; rates[c] = level["output_token_throughput"]
        row = (f"| {c} | {level['request_throughput']:.2f} | {level['output_token_throughput']:.1f} | {level['ttft_ms']['median']:.0f} | "
               f"{level['ttft_ms']['p99']:.0f} | {level['tpot_ms']['median']:.1f} | {level['itl_ms']['p99']:.1f} |")
        if peer: row += f" {peer.get(c, '')} |"
        if ceiling_rates:
            e = ceiling_rates.get(c)
            row += f" {e:.1f} | {100 * (1 - level['output_token_throughput'] / e):.0f}% |" if e else " | |"
        w(row)
    if 1 in rates and 16 in rates:
        w(f"\n16 concurrent streams give **{rates[16] / rates[1]:.1f}×** the aggregate output throughput of one.\n")
    w(f"![throughput]({chart_dir}/throughput.png) ![TTFT]({chart_dir}/latency_ttft.png) ![ITL]({chart_dir}/latency_itl.png)\n")

sweep("tinystories-sweep", "Throughput against concurrency: TinyStories-656K (Q8_0)", "bench/tinystories",
      ceiling_rates=ceiling("tinystories"))
sweep("synthetic125m-sweep", "Throughput against concurrency: synthetic 125M (Q8_0, 32k vocabulary)", "bench/synthetic125m",
      peer={1: 188, 4: 267, 8: 367, 16: 472}, ceiling_rates=ceiling("synthetic125m"))
w("llama-server column: llama.cpp's own server (build 10156, CPU) on the same model shape, measured on this machine "
  "type and quoted in the benchmark issue. Engine-only: the same batch shapes decoded in a tight loop with LLamaSharp "
  "(`synthmodel bench`), no HTTP or scheduler; overhead = 1 − server ÷ engine-only at the same concurrency.\n")

on, off = load("cache-on-shared-prefix"), load("cache-off-shared-prefix")
if on and off:
    w("## Prefix cache: a 1,000-word shared system prompt, 4 concurrent clients (synthetic 125M)\n")
    w("| cache | first wave TTFT mean ms (first 4 requests) | warm TTFT p50 ms | cached prompt tokens |")
    w("| --- | --- | --- | --- |")
    for label, data in (("on", on), ("off", off)):
        rows = sorted((r for r in data["requests"][0] if r["ok"]), key=lambda r: r["sent_at_ms"])
        wave = [r["ttft_ms"] for r in rows[:4]]
        warm = [r["ttft_ms"] for r in rows[4:]]
        cached = sum(r["cached_tokens"] for r in rows)
        w(f"| {label} | {statistics.mean(wave):.0f} | {p50(warm):.0f} | {cached} of {sum(r['prompt_tokens'] for r in rows)} |")
    w("\nllama-server on the same workload (quoted in the benchmark issue): first four requests 3.1 s on average, warm 192 ms p50.\n")

on, off = load("cache-on-multi-turn"), load("cache-off-multi-turn")
if on and off:
    w("## Prefix cache: multi-turn conversations, TTFT p50 by turn (ms), synthetic 125M\n")
    tables = {}
    for label, data in (("cache on", on), ("cache off", off)):
        by_turn = {}
        for r in data["requests"][0]:
            if r["ok"]: by_turn.setdefault(r["turn"], []).append(r["ttft_ms"])
        tables[label] = by_turn
    turns = sorted(set(tables["cache on"]) & set(tables["cache off"]))
    w("| turn | " + " | ".join(str(t + 1) for t in turns) + " |")
    w("| --- |" + " --- |" * len(turns))
    for label, by_turn in tables.items():
        w(f"| {label} | " + " | ".join(f"{p50(by_turn[t]):.0f}" for t in turns) + " |")
    w("")

mixed = load("synthetic125m-mixed")
if mixed:
    w("## Mixed long (400-word) and short prompts under Poisson arrivals (synthetic 125M)\n")
    w(f"`{mixed['command_line']}`\n")
    w("| arrivals/s | output tok/s | TTFT p50 ms | ITL p50 ms | ITL p99 ms | TPOT p99 ms |")
    w("| --- | --- | --- | --- | --- | --- |")
    for level in mixed["levels"]:
        w(f"| {level['request_rate']} | {level['output_token_throughput']:.1f} | {level['ttft_ms']['median']:.0f} | "
          f"{level['itl_ms']['median']:.1f} | {level['itl_ms']['p99']:.1f} | {level['tpot_ms']['p99']:.1f} |")
    w("\nLong prompts are prefilled in chunks within `--batch-size` beside the running streams' tokens, so a long "
      "arrival stalls the others for at most one step.\n")

# Sections measured by other scripts (loadtests/decode-lock-bench.sh) follow this marker and are kept as they are.
MARK = "<!-- measured separately -->"
previous = target.read_text() if target.exists() else ""
kept = previous[previous.index(MARK):] if MARK in previous else ""
target.write_text("\n".join(out) + ("\n" + kept if kept else ""))
print(f"wrote {target}")
