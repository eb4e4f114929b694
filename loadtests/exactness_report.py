#!/usr/bin/env python3
"""Writes the "Exactness" section of docs/benchmarks.md from loadtests/exactness-bench.sh's results."""
import json, statistics, sys
from pathlib import Path
from report_section import replace_section

bench, target = Path(sys.argv[1]), Path(sys.argv[2])
BEGIN, END = "<!-- exactness: loadtests/exactness-bench.sh -->", "<!-- /exactness -->"
runs = {p.stem: json.loads(p.read_text()) for p in sorted(bench.glob("*.json"))}
rounds = sorted({int(name.split("-r")[1].split("-")[0]) for name in runs})

def median_over_rounds(mode, row, pick):
    values = [pick(runs[f"{mode}-r{r}-{row}"]) for r in rounds if f"{mode}-r{r}-{row}" in runs]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def throughput(run): return run["levels"][0]["output_token_throughput"]
def sent(run): return sorted((r for r in run["requests"][0] if r["ok"]), key=lambda r: r["sent_at_ms"])
def first_wave(run): return statistics.mean(r["ttft_ms"] for r in sent(run)[:4])
def warm(run): return statistics.median(r["ttft_ms"] for r in sent(run)[4:]) if len(sent(run)) > 4 else None
def cached(run): return sum(r["cached_tokens"] for r in sent(run)), sum(r["prompt_tokens"] for r in sent(run))

some = next(iter(runs.values()))
machine, date = some["machine"], some["started_at"][:10]
commit = (bench / "commit.txt").read_text().strip()
out = ["## Exactness: what the default layout costs\n"]
w = out.append
w(f"`bash loadtests/exactness-bench.sh` (about 8 minutes). Commit `{commit}`, {machine['logical_cores']} logical cores "
  f"({machine['cpu_model']}), {date}; medians over {len(rounds)} rounds in which the modes took turns. Synthetic 125M "
  "Q8_0, `-np 16 -c 32768`. **exact** = the default: a KV stream per sequence, q8_0 keys (so prompt chunks of any size; below 64 tokens with f16 keys), a "
  "finished request's stream kept resident in its slot; **unified** = `--kv-unified`: one pool of cells, a radix "
  "tree of shared cells, any chunk size (a greedy answer can change with load). Why and how: "
  "[determinism.md](determinism.md).\n")
w("| mode | 16 streams chat tok/s | 16 streams decode-bound tok/s | shared prefix: first wave TTFT mean ms | warm TTFT p50 ms | cached prompt tokens |")
w("| --- | --- | --- | --- | --- | --- |")
for mode in ["exact", "unified", "exact-nocache", "unified-nocache"]:
    chat = median_over_rounds(mode, "c16", throughput)
    decode = median_over_rounds(mode, "decode-c16", throughput)
    fw = median_over_rounds(mode, "shared-prefix", first_wave)
    wm = median_over_rounds(mode, "shared-prefix", warm)
    hit = runs.get(f"{mode}-r{rounds[-1]}-shared-prefix")
    fmt = lambda v, f="{:.1f}": "–" if v is None else f.format(v)
    w(f"| {mode} | {fmt(chat)} | {fmt(decode)} | {fmt(fw, '{:.0f}')} | {fmt(wm, '{:.0f}')} | "
      + ("–" if hit is None else "{} of {}".format(*cached(hit))) + " |")

def ratio(a, b): return None if a is None or b is None else a / b
rows = [
    ("16 streams chat throughput, exact ÷ unified", ratio(median_over_rounds("exact", "c16", throughput), median_over_rounds("unified", "c16", throughput)), "≥ 0.95"),
    ("16 streams decode-bound throughput, exact ÷ unified", ratio(median_over_rounds("exact", "decode-c16", throughput), median_over_rounds("unified", "decode-c16", throughput)), "≥ 0.95"),
    ("first-wave TTFT, exact ÷ its no-cache run", ratio(median_over_rounds("exact", "shared-prefix", first_wave), median_over_rounds("exact-nocache", "shared-prefix", first_wave)), "≤ 0.6"),
    ("warm TTFT, exact ÷ its no-cache run", ratio(median_over_rounds("exact", "shared-prefix", warm), median_over_rounds("exact-nocache", "shared-prefix", warm)), "≤ 0.15"),
    ("first-wave TTFT, unified ÷ its no-cache run", ratio(median_over_rounds("unified", "shared-prefix", first_wave), median_over_rounds("unified-nocache", "shared-prefix", first_wave)), ""),
    ("warm TTFT, unified ÷ its no-cache run", ratio(median_over_rounds("unified", "shared-prefix", warm), median_over_rounds("unified-nocache", "shared-prefix", warm)), ""),
]
w("\n| ratio | measured | target |")
w("| --- | --- | --- |")
for label, value, goal in rows:
    w(f"| {label} | {'–' if value is None else f'**{value:.2f}**'} | {goal} |")
replace_section(target, BEGIN, END, "\n".join(out) + "\n")
