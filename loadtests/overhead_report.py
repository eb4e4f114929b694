#!/usr/bin/env python3
"""Writes the "Server overhead" section of docs/benchmarks.md (and its chart) from loadtests/overhead-bench.sh's results."""
import json, re, sys
from pathlib import Path
from report_section import replace_section

bench, target = Path(sys.argv[1]), Path(sys.argv[2])
BEGIN, END = "<!-- overhead: loadtests/overhead-bench.sh -->", "<!-- /overhead -->"

def load(name):
    path = bench / f"{name}.json"
    return json.loads(path.read_text())["levels"][0] if path.exists() else None

def ceiling(name):
    rates, prefill = {}, None
    path = bench / f"ceiling-{name}.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        m = re.search(r": (\d+) stream\(s\) x \d+ tokens, \d+ threads: ([\d.]+) tokens/s.*prefill of (\d+) tokens ([\d.]+) ms", line)
        if m:
            rates[int(m.group(1))] = float(m.group(2))
            if m.group(1) == "1": prefill = (int(m.group(3)), float(m.group(4)))
    return rates, prefill

synthetic, prefill = ceiling("synthetic125m")
tiny, _ = ceiling("tinystories")
first = json.loads(next(bench.glob("ours-c1.json")).read_text())
machine, date = first["machine"], first["started_at"][:10]
commit = (bench / "commit.txt").read_text().strip()

rows = []  # (label, output tok/s, engine-only tok/s)
out = ["## Server overhead against the engine-only ceiling\n"]
w = out.append
w(f"`bash loadtests/overhead-bench.sh` (about 6 minutes; `LLAMA_SERVER=PATH` adds llama.cpp's server to the same run). "
  f"Commit `{commit}`, {machine['logical_cores']} logical cores ({machine['cpu_model']}), {date}. Synthetic 125M Q8_0 "
  "(32k vocabulary), server flags `-c 16384 -np 16 -t <cores>` (default KV types: q8_0 keys, f16 values on the 125M model, and the same for the engine-only loop and llama-server), streamed chat, 32 words in, 128 tokens out "
  "(`ignore_eos`, the OpenAI default temperature 1), each server first warmed with 512 short unmeasured requests "
  "so that its JIT has settled; engine-only: `synthmodel bench`, LLamaSharp decoding the same "
  "batch shapes greedily in a tight loop, no HTTP or scheduler. The load client shares the cores. How the time "
  "was found and removed: [performance.md](performance.md).\n")
w("| server | streams | output tok/s | engine-only tok/s | ratio | TTFT p50 ms | ITL p50 ms | ITL mean ms | ITL p99 ms |")
w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
baseline = (bench / "baseline-commit.txt").read_text().strip() if (bench / "baseline-commit.txt").exists() else None
servers = [("this server", "ours"), (f"this server at {baseline}", "baseline"), ("llama-server", "llama-server")]
for label, prefix in servers:
    for streams in (1, 16):
        level = load(f"{prefix}-c{streams}")
        if not level: continue
        rate, engine = level["output_token_throughput"], synthetic.get(streams)
        rows.append((f"{label}, {streams}", rate, engine))
        itl = level["itl_ms"]
        w(f"| {label} | {streams} | {rate:.1f} | {engine:.1f} | **{rate / engine:.2f}** | {level['ttft_ms']['median']:.0f} | "
          f"{itl['median']:.2f} | {itl['mean']:.2f} | {itl['p99']:.2f} |")
w("\nDecode-bound: a 2-word completion prompt (3 tokens) instead of a 32-word chat, so that the server's work is "
  "almost all generation, as in the engine-only loop (the rows above also prefill about 50 prompt tokens per 128 "
  "generated, which the ceiling does not).\n")
w("| server | streams | output tok/s | engine-only tok/s | ratio | TTFT p50 ms | ITL p50 ms | ITL mean ms | ITL p99 ms |")
w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for label, prefix, streams in [(label, prefix, s) for label, prefix in servers for s in (1, 16)] + [("this server, --no-prefix-cache", "ours-nocache", 16)]:
    level = load(f"{prefix}-decode-c{streams}")
    if not level: continue
    rate, engine, itl = level["output_token_throughput"], synthetic.get(streams), level["itl_ms"]
    rows.append((f"{label}, decode-bound, {streams}", rate, engine))
    w(f"| {label} | {streams} | {rate:.1f} | {engine:.1f} | **{rate / engine:.2f}** | {level['ttft_ms']['median']:.0f} | "
      f"{itl['median']:.2f} | {itl['mean']:.2f} | {itl['p99']:.2f} |")

w("\nTinyStories-656K, whose 16-token step decodes in about 2 ms, shows the per-token cost of HTTP and SSE:\n")
w("| server | streams | output tok/s | engine-only tok/s | ratio | TTFT p50 ms | ITL p50 ms | ITL mean ms | ITL p99 ms |")
w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for label, prefix in servers[:2]:
    level = load(f"{prefix}-tinystories-c16")
    if not level or 16 not in tiny: continue
    rate = level["output_token_throughput"]
    rows.append((f"{label}, TinyStories-656K, 16", rate, tiny[16]))
    w(f"| {label}, TinyStories-656K | 16 | {rate:.1f} | {tiny[16]:.1f} | **{rate / tiny[16]:.2f}** | "
      f"{level['ttft_ms']['median']:.0f} | {level['itl_ms']['median']:.2f} | {level['itl_ms']['mean']:.2f} | {level['itl_ms']['p99']:.2f} |")

for label, prefix in servers:
    ttft = load(f"{prefix}-ttft")
    if ttft and prefill and 1 in synthetic:
        step_ms = 1000 / synthetic[1]
        w(f"\n{label}: time to first token of a 16-word completion prompt on an idle server, p50 **{ttft['ttft_ms']['median']:.1f} ms** "
          f"(mean prompt {ttft['total_prompt_tokens'] / ttft['completed']:.0f} tokens); the engine alone prefills its "
          f"{prefill[0]}-token prompt in {prefill[1]:.1f} ms and decodes one step in {step_ms:.1f} ms, so the target "
          f"(prompt + one step + 2 ms) is about {prefill[1] + step_ms + 2:.1f} ms.")

phases = bench / "ours-phases.txt"
if phases.exists():
    sums, counts = {}, {}
    for line in phases.read_text().splitlines():
        m = re.match(r'inferenceserver_engine_step_phase_seconds_(sum|count)\{.*phase="(\w+)".*\} (\S+)', line)
        if m: (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    order = [p for p in ("schedule", "decode", "sample", "output", "idle") if counts.get(p)]
    w("\nThe server's own step-phase histogram over the 125M rows (`inferenceserver_engine_step_phase_seconds`, mean ms per step): "
      + ", ".join(f"{p} {1000 * sums[p] / counts[p]:.3f}" for p in order) + ".")

# A horizontal bar chart of the ratios, as SVG (no plotting library needed).
if rows:
    height, bar = 28 * len(rows) + 40, 300
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="780" height="{height}" font-family="sans-serif" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="18">Output tokens/s as a share of the engine-only ceiling ({date}, commit {commit})</text>']
    for i, (label, rate, engine) in enumerate(rows):
        y, ratio = 32 + 28 * i, rate / engine
        svg.append(f'<text x="10" y="{y + 15}">{label}</text>')
        svg.append(f'<rect x="350" y="{y}" width="{bar * min(ratio, 1.2):.0f}" height="20" fill="{"#999" if "llama" in label else "#bbb" if " at " in label else "#2b7bb9"}"/>')
        svg.append(f'<text x="{355 + bar * min(ratio, 1.2):.0f}" y="{y + 15}">{ratio:.2f}</text>')
    svg.append(f'<line x1="{350 + bar}" y1="28" x2="{350 + bar}" y2="{height - 4}" stroke="black" stroke-dasharray="4"/></svg>')
    (bench / "ratios.svg").write_text("\n".join(svg))
    w(f"\n![ratios](bench/overhead/ratios.svg)\n")
replace_section(target, BEGIN, END, "\n".join(out))
print(f"wrote the overhead section of {target}")
