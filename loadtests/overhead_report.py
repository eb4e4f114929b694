#!/usr/bin/env python3
"""Writes the "Server overhead" section of docs/benchmarks.md (and its chart) from loadtests/overhead-bench.sh's results."""
import json, re, sys
from pathlib import Path
from report_section import replace_section

bench, target = Path(sys.argv[1]), Path(sys.argv[2])
BEGIN, END = "<!-- overhead: loadtests/overhead-bench.sh -->", "<!-- /overhead -->"

def ceiling(path, with_prefill=False):
    rates, prefill = {}, None
    for line in path.read_text().splitlines() if path.exists() else []:
        m = re.search(r": (\d+) stream\(s\) x \d+ tokens, \d+ threads: ([\d.]+) tokens/s.*prefill of (\d+) tokens ([\d.]+) ms"
                      r"(?:.*\) ([\d.]+) tokens/s)?", line)
        if m:
            rates[int(m.group(1))] = float(m.group(5)) if with_prefill else float(m.group(2))
            if m.group(1) == "1": prefill = (int(m.group(3)), float(m.group(4)))
    return rates, prefill

# Every round measured its own ceiling, then every server row: a row's ratio is taken within its round.
rounds = sorted(int(m.group(1)) for f in bench.glob("ceiling-synthetic125m-r*.txt") if (m := re.search(r"-r(\d+)\.txt$", f.name)))
synthetic = {r: ceiling(bench / f"ceiling-synthetic125m-r{r}.txt")[0] for r in rounds}
tiny = {r: ceiling(bench / f"ceiling-tinystories-r{r}.txt")[0] for r in rounds}
prefills = {r: ceiling(bench / f"ceiling-synthetic125m-r{r}.txt")[1] for r in rounds}
chat_ceilings = {r: ceiling(bench / f"ceiling-chat-r{r}.txt", with_prefill=True)[0] for r in rounds}

def load(name, r):
    path = bench / f"{name}-r{r}.json"
    return json.loads(path.read_text())["levels"][0] if path.exists() else None

def median_round(name, ceilings, streams):
    """(level, ceiling, every round's ratio) of the round whose ratio is the median (the lower middle of an even count)."""
    runs = sorted((level["output_token_throughput"] / ceilings[r][streams], r, level) for r in rounds
                  if (level := load(name, r)) and streams in ceilings[r])
    if not runs: return None
    ratio, r, level = runs[(len(runs) - 1) // 2]
    return level, ceilings[r][streams], [x[0] for x in sorted(runs, key=lambda x: x[1])]

first = json.loads(next(bench.glob("ours-c1-r*.json")).read_text())
machine, date = first["machine"], first["started_at"][:10]
commit = (bench / "commit.txt").read_text().strip()

def row(label, streams, found, chart=None):
    level, engine, ratios = found
    rate, itl = level["output_token_throughput"], level["itl_ms"]
    rows.append((chart or f"{label}, {streams}", rate / engine))
    each = " / ".join(f"{x:.2f}" for x in ratios)
    w(f"| {label} | {streams} | {rate:.1f} | {engine:.1f} | **{rate / engine:.2f}** | {each} | {level['ttft_ms']['median']:.0f} | "
      f"{itl['median']:.2f} | {itl['mean']:.2f} | {itl['p99']:.2f} |")

rows = []  # (label, median ratio)
out = ["## Server overhead against the engine-only ceiling\n"]
w = out.append
HEADER = ("| server | streams | output tok/s | engine-only tok/s | ratio (median) | each round | TTFT p50 ms | ITL p50 ms | ITL mean ms | ITL p99 ms |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
w(f"`bash loadtests/overhead-bench.sh` ({len(rounds)} round{'s' if len(rounds) != 1 else ''} of about 3 minutes; `LLAMA_SERVER=PATH` adds llama.cpp's server to the same run). "
  f"Commit `{commit}`, {machine['logical_cores']} logical cores ({machine['cpu_model']}), {date}. Synthetic 125M Q8_0 "
  "(32k vocabulary), server flags `-c 16384 -np 16 -t <cores>` (default KV types: q8_0 keys, f16 values on the 125M model, and the same for the engine-only loop and llama-server), streamed chat, 32 words in, 128 tokens out "
  "(`ignore_eos`, the OpenAI default temperature 1), each server first warmed with 512 short unmeasured requests "
  "so that its JIT has settled; engine-only: `synthmodel bench`, LLamaSharp decoding the same "
  "batch shapes greedily in a tight loop, no HTTP or scheduler. The load client shares the cores. The machine's speed "
  "drifts by ±15% over minutes, so each round measures the ceiling and then every row, and a row's ratio is the median of "
  "its rounds' ratios, each against its own round's ceiling (its other columns are the median round's). How the time "
  "was found and removed: [performance.md](performance.md).\n")
w(HEADER)
baseline = (bench / "baseline-commit.txt").read_text().strip() if (bench / "baseline-commit.txt").exists() else None
servers = [("this server", "ours"), (f"this server at {baseline}", "baseline"), ("llama-server", "llama-server")]
for label, prefix in servers:
    for streams in (1, 16):
        if found := median_round(f"{prefix}-c{streams}", synthetic, streams): row(label, streams, found)
against_prefill = [(streams, found) for streams in (1, 16) if (found := median_round(f"ours-c{streams}", chat_ceilings, streams))]
if against_prefill:
    w("\nThese rows also prefill each request's prompt, which the decode-only ceiling does not. The engine-only loop "
      "given the same work (`synthmodel bench --prompt-tokens P`: each row's mean uncached prompt, the first alone and "
      "the rest together in batches of up to 512 tokens, then the 128 tokens) decodes "
      + "; ".join(f"{streams} stream{'s' if streams > 1 else ''} at {engine:.1f} tokens/s, and this server's row comes to "
                  f"**{level['output_token_throughput'] / engine:.2f}** of it (rounds {' / '.join(f'{x:.2f}' for x in ratios)})"
                  for streams, (level, engine, ratios) in against_prefill)
      + ". At 16 streams the server can pass 1: it feeds a prompt's chunks in the same decodes as the other requests' tokens, where the loop prefills every prompt first.")
w("\nDecode-bound: a 2-word completion prompt (3 tokens) instead of a 32-word chat, so that the server's work is "
  "almost all generation, as in the engine-only loop (the rows above also prefill about 50 prompt tokens per 128 "
  "generated, which the ceiling does not).\n")
w(HEADER)
for label, prefix, streams in [(label, prefix, s) for label, prefix in servers for s in (1, 16)] + [("this server, --no-prefix-cache", "ours-nocache", 16)]:
    if found := median_round(f"{prefix}-decode-c{streams}", synthetic, streams): row(label, streams, found, chart=f"{label}, decode-bound, {streams}")

w("\nTinyStories-656K, whose 16-token step decodes in about 2 ms, shows the per-token cost of HTTP and SSE:\n")
w(HEADER)
for label, prefix in servers[:2]:
    if found := median_round(f"{prefix}-tinystories-c16", tiny, 16): row(f"{label}, TinyStories-656K", 16, found)

for label, prefix in servers:
    runs = sorted((t["ttft_ms"]["median"], r, t) for r in rounds if (t := load(f"{prefix}-ttft", r)) and prefills[r] and 1 in synthetic[r])
    if runs:
        ttft_ms, r, ttft = runs[(len(runs) - 1) // 2]
        (tokens, prefill_ms), step_ms = prefills[r], 1000 / synthetic[r][1]
        w(f"\n{label}: time to first token of a 16-word completion prompt on an idle server, p50 **{ttft_ms:.1f} ms** "
          f"(the median round; rounds {' / '.join(f'{x[0]:.1f}' for x in sorted(runs, key=lambda x: x[1]))} ms; mean prompt "
          f"{ttft['total_prompt_tokens'] / ttft['completed']:.0f} tokens); in that round the engine alone prefilled its "
          f"{tokens}-token prompt in {prefill_ms:.1f} ms and decoded one step in {step_ms:.1f} ms, so the target "
          f"(prompt + one step + 2 ms) was about {prefill_ms + step_ms + 2:.1f} ms.")

def phase_totals(path):
    sums, counts = {}, {}
    for line in path.read_text().splitlines() if path.exists() else []:
        m = re.match(r'inferenceserver_engine_step_phase_seconds_(sum|count)\{.*phase="(\w+)".*\} (\S+)', line)
        if m: (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return sums, counts

# The rows' steps only: each round's counts after its warm-up are subtracted.
sums, counts = {}, {}
for r in rounds:
    (after_s, after_c), (warm_s, warm_c) = phase_totals(bench / f"ours-phases-r{r}.txt"), phase_totals(bench / f"ours-phases-warm-r{r}.txt")
    for p in after_c:
        sums[p] = sums.get(p, 0) + after_s[p] - warm_s.get(p, 0)
        counts[p] = counts.get(p, 0) + after_c[p] - warm_c.get(p, 0)
order = [p for p in ("schedule", "decode", "sample", "output", "idle") if counts.get(p)]
if order:
    w("\nThe server's own step-phase histogram over the 125M rows, warm-ups left out (`inferenceserver_engine_step_phase_seconds`, mean ms per step): "
      + ", ".join(f"{p} {1000 * sums[p] / counts[p]:.3f}" for p in order) + ".")

# A horizontal bar chart of the ratios, as SVG (no plotting library needed).
if rows:
    height, bar = 28 * len(rows) + 40, 300
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="780" height="{height}" font-family="sans-serif" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="18">Output tokens/s as a share of the engine-only ceiling, median of {len(rounds)} rounds ({date}, commit {commit})</text>']
    for i, (label, ratio) in enumerate(rows):
        y = 32 + 28 * i
        svg.append(f'<text x="10" y="{y + 15}">{label}</text>')
        svg.append(f'<rect x="350" y="{y}" width="{bar * min(ratio, 1.2):.0f}" height="20" fill="{"#999" if "llama" in label else "#bbb" if " at " in label else "#2b7bb9"}"/>')
        svg.append(f'<text x="{355 + bar * min(ratio, 1.2):.0f}" y="{y + 15}">{ratio:.2f}</text>')
    svg.append(f'<line x1="{350 + bar}" y1="28" x2="{350 + bar}" y2="{height - 4}" stroke="black" stroke-dasharray="4"/></svg>')
    (bench / "ratios.svg").write_text("\n".join(svg))
    w(f"\n![ratios](bench/overhead/ratios.svg)\n")
replace_section(target, BEGIN, END, "\n".join(out))
print(f"wrote the overhead section of {target}")
