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

def commit_of(name):
    # Recorded when the section ran (a section can be rerun alone); else the checkout's commit.
    path = bench / name
    if path.exists(): return path.read_text().strip()
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

commit = commit_of("commit.txt")
first = next((json.loads(p.read_text()) for p in sorted(bench.glob("*.json"))), None)
machine = first["machine"] if first else {"logical_cores": "?", "cpu_model": "?"}
date = first["started_at"][:10] if first else "?"
out = []
w = out.append
w("# Benchmarks\n")
w(f"Regenerate everything here with `bash loadtests/run-benchmarks.sh` (about 25 minutes on 2 cores). Commit `{commit}`, "
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

runs = [("base model, no adapter", "base-c16", 1), ("1 adapter", "1-set-c4", 1), ("1 adapter", "1-set-c8", 1),
        ("1 adapter", "1-set-c16", 1), ("2 adapters", "2-sets-c16", 2), ("4 adapters", "4-sets-c16", 4)]
lora = {name: load(f"lora-{name}") for _, name, _ in runs}
cpu_file = bench / "lora-cpu.txt"
if all(lora.values()) and cpu_file.exists():
    cpu = {line.split()[0][len("lora-"):]: float(line.split()[1]) for line in cpu_file.read_text().splitlines() if line.strip()}
    first = lora["base-c16"]
    w("## LoRA adapters: 16 streams spread over 1, 2 and 4 adapter sets (synthetic 125M)\n")
    w(f"Commit `{commit_of('lora-commit.txt')}`, {first['started_at'][:10]}, {first['machine']['logical_cores']} logical cores "
      f"({first['machine']['cpu_model']}); `bash loadtests/run-benchmarks.sh --lora-only` reruns just this section (about 5 "
      "minutes). Server flags `-np 32 -t 1 --no-prefix-cache` (every row sends the same seeded prompts; with the cache, later rows would skip their prefill). Four random rank-16 adapters (`synthmodel lora`, targets attn_q and attn_v) "
      "loaded with `--lora`; request i uses adapter i mod n (`loadgen --model ID:a1,ID:a2,…`), 32 requests of 32 words "
      "in, 64 tokens out per row. Each decode step runs ONE adapter set's streams (llama.cpp applies adapters to the "
      "whole context), sets taking turns. Other work shared the machine, which stretches wall-clock rates; the server's "
      "own CPU time per token does not depend on that, so the ratios below use tokens per server CPU-second.\n")
    w(f"`{lora['4-sets-c16']['command_line']}`\n")
    w("| streams on | concurrency | streams per step | output tok/s (wall) | output tok per server CPU-s | TTFT p50 ms | TPOT p50 ms |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    efficiency = {}
    for label, name, sets in runs:
        level = lora[name]["levels"][0]
        c = level["concurrency"]
        efficiency[name] = level["total_output_tokens"] / cpu[name]
        w(f"| {label} | {c} | {c // sets} | {level['output_token_throughput']:.1f} | {efficiency[name]:.1f} | "
          f"{level['ttft_ms']['median']:.0f} | {level['tpot_ms']['median']:.1f} |")
    e = efficiency
    w(f"\nPer server CPU-second, at 16 streams: one adapter runs at **{e['1-set-c16'] / e['base-c16']:.0%}** of the base "
      f"model's throughput; spread over 2 sets, the 16 streams get **{e['2-sets-c16'] / e['1-set-c16']:.0%}** of one set's "
      f"throughput, over 4 sets **{e['4-sets-c16'] / e['1-set-c16']:.0%}**. Against one set at the same streams per step "
      f"(each step of 2 sets decodes 8 streams, of 4 sets 4): **{e['2-sets-c16'] / e['1-set-c8']:.0%}** of 1 set at 8 and "
      f"**{e['4-sets-c16'] / e['1-set-c4']:.0%}** of 1 set at 4, so the loss is the smaller batch per step; switching "
      "adapters every step (llama_set_adapters_lora) and the grouping cost nothing this run can separate from its noise "
      f"(the base model and one rank-16 adapter, under 1% more arithmetic, measured {abs(1 - e['1-set-c16'] / e['base-c16']):.0%} "
      "apart: that is this run's noise). A machine where a bigger batch costs little more per "
      "step than a small one (more cores, a GPU) loses more to small batches.\n")

# Sections measured by other scripts (loadtests/decode-lock-bench.sh) follow this marker and are kept as they are.
MARK = "<!-- measured separately -->"
previous = target.read_text() if target.exists() else ""
kept = previous[previous.index(MARK):] if MARK in previous else ""
target.write_text("\n".join(out) + ("\n" + kept if kept else ""))
print(f"wrote {target}")
