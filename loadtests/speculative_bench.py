"""Measures speculative decoding on a running server (see speculative-bench.sh), or writes the report of a run.

Each row runs PAIRS pairs of one request: without speculation ("speculative": false) and with it, alternating
which goes first; the speedup is the median over pairs of (tokens/s with) / (tokens/s without). Greedy requests
must give the same text both ways: a difference fails the run."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

STORY = ("Once upon a time, there was a little girl named Lily. She had a red ball that she loved very much. Every day "
         "she took the ball to the park and played with her friend Tom. One day the ball rolled into the pond, and Lily "
         "was very sad. Tom found a long stick and pulled the ball out of the water. Lily hugged Tom and said thank you. "
         "From that day on, they always played together, and they were careful near the pond. ")


def post(base, route, body):
    request = urllib.request.Request(f"{base}/{route}", data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        result = json.load(response)
    return result, time.perf_counter() - started


def model_id(base):
    with urllib.request.urlopen(f"{base}/models") as response:
        return json.load(response)["data"][0]["id"]


def draft_totals(base):
    """Draft tokens verified and accepted so far, all kinds together, from /metrics."""
    totals = {"draft": 0.0, "accepted": 0.0}
    with urllib.request.urlopen(base.removesuffix("/v1") + "/metrics") as response:
        for line in response.read().decode().splitlines():
            for key, name in (("draft", "inferenceserver_speculative_draft_tokens_total{"), ("accepted", "inferenceserver_speculative_accepted_tokens_total{")):
                if line.startswith(name):
                    totals[key] += float(line.rsplit(" ", 1)[1])
    return totals


def completion(base, model, prompt, tokens, **extra):
    body = {"model": model, "prompt": prompt, "max_tokens": tokens, "temperature": 0, "ignore_eos": True, **extra}
    result, seconds = post(base, "completions", body)
    usage = result["usage"]
    return {"text": result["choices"][0]["text"], "tokens": usage["completion_tokens"], "tps": usage["completion_tokens"] / seconds}


# --allow-text-differences: count pairs whose greedy texts differ instead of stopping (GPU kernels round by batch shape).
ALLOW_TEXT_DIFFERENCES = False


def pairs_row(base, model, name, pairs, prompt, tokens, extra):
    ratios, plain_tps, spec_tps, differing = [], [], [], 0
    before = draft_totals(base)
    for i in range(pairs):
        order = [False, True] if i % 2 == 0 else [True, False]
        runs = {}
        for speculative in order:
            runs[speculative] = completion(base, model, prompt, tokens, speculative=speculative, **(extra if speculative else {}))
        if runs[True]["text"] != runs[False]["text"]:
            if not ALLOW_TEXT_DIFFERENCES:
                sys.exit(f"{name}: the text with speculation differs from the text without:\n{runs[False]['text']!r}\n{runs[True]['text']!r}")
            differing += 1
            print(f"  {name} pair {i + 1}: the text with speculation differs", flush=True)
        ratios.append(runs[True]["tps"] / runs[False]["tps"])
        plain_tps.append(runs[False]["tps"])
        spec_tps.append(runs[True]["tps"])
        print(f"  {name} pair {i + 1}/{pairs}: {runs[False]['tps']:.1f} -> {runs[True]['tps']:.1f} tok/s ({ratios[-1]:.2f}x)", flush=True)
    after = draft_totals(base)
    return {"row": name, "speedup": statistics.median(ratios), "plain_tps": statistics.median(plain_tps),
            "spec_tps": statistics.median(spec_tps), "drafted_per_request": (after["draft"] - before["draft"]) / pairs,
            "accepted_per_request": (after["accepted"] - before["accepted"]) / pairs, "tokens": tokens, "pairs": pairs,
            "differing_texts": differing}


def concurrent_row(base, model, pairs, streams=16, tokens=64):
    prompts = [f"Once upon a time, child number {i} went to the park." for i in range(streams)]

    def wave(speculative):
        started = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            results = list(pool.map(lambda p: completion(base, model, p, tokens, speculative=speculative), prompts))
        return sum(r["tokens"] for r in results) / (time.perf_counter() - started), [r["text"] for r in results]

    ratios, plain_tps, spec_tps = [], [], []
    before = draft_totals(base)
    for i in range(pairs):
        order = [False, True] if i % 2 == 0 else [True, False]
        waves = {s: wave(s) for s in order}
        if waves[True][1] != waves[False][1]:
            print("  16 streams: some texts differ with speculation (the shared KV cache rounds by batch shape)", flush=True)
        ratios.append(waves[True][0] / waves[False][0])
        plain_tps.append(waves[False][0])
        spec_tps.append(waves[True][0])
        print(f"  16 streams pair {i + 1}/{pairs}: {waves[False][0]:.1f} -> {waves[True][0]:.1f} tok/s ({ratios[-1]:.2f}x)", flush=True)
    after = draft_totals(base)
    return {"row": f"{streams} streams, {tokens} tokens each (ngram)", "speedup": statistics.median(ratios),
            "plain_tps": statistics.median(plain_tps), "spec_tps": statistics.median(spec_tps),
            "drafted_per_request": (after["draft"] - before["draft"]) / (pairs * streams),
            "accepted_per_request": (after["accepted"] - before["accepted"]) / (pairs * streams), "tokens": tokens, "pairs": pairs}


def edited(base, model, prompt, tokens, every=20):
    """The answer as its tokens' text, with every `every`-th token's text replaced by another word."""
    result, _ = post(base, "completions", {"model": model, "prompt": prompt, "max_tokens": tokens, "temperature": 0,
                                           "ignore_eos": True, "logprobs": 0})
    pieces = result["choices"][0]["logprobs"]["tokens"]
    return result["choices"][0]["text"], "".join(" zebra" if i % every == every - 1 else p for i, p in enumerate(pieces))


def measure(args):
    base, pairs = args.base_url, args.pairs
    model = model_id(base)
    rewrite = "Rewrite the story below without changes.\n\n" + STORY + "\n\nRewritten:\n"
    # Warm-up: first requests pay for JIT and cold caches.
    completion(base, model, "Hello", 8, speculative=False)
    if args.rows == "draft":
        rows = [pairs_row(base, model, "draft model, a story, 128 tokens", pairs, "Once upon a time, Tom and Lily", 128, {})]
        Path(args.out).write_text(json.dumps({"label": args.label, "model": model, "rows": rows}, indent=1))
        return
    answer, every20 = edited(base, model, rewrite, 128)
    rows = [
        pairs_row(base, model, "prediction = the answer, 128 tokens", pairs, rewrite, 128,
                  {"prediction": {"type": "content", "content": answer}}),
        pairs_row(base, model, "prediction differing every 20 tokens", pairs, rewrite, 128,
                  {"prediction": {"type": "content", "content": every20}}),
        pairs_row(base, model, "ngram, repeat a story with small changes, 256 tokens", pairs,
                  "Repeat this story, but call the girl Anna:\n\n" + STORY * 3 + "\n\nThe story again:\n\n" + STORY[:60], 256, {}),
        pairs_row(base, model, "ngram, nothing to copy (short prompt), 128 tokens", pairs, "Tom and his dog", 128, {}),
        concurrent_row(base, model, pairs),
    ]
    Path(args.out).write_text(json.dumps({"label": args.label, "model": model, "rows": rows}, indent=1))


def report(args):
    run_dir = Path(args.report)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.machine())
    load = os.getloadavg()
    runs = [json.loads(path.read_text()) for path in sorted(run_dir.glob("*.json"))]
    differing = sum(row.get("differing_texts", 0) for run in runs for row in run["rows"])
    texts = (f"{differing} pairs' texts differed (counted, `--allow-text-differences`)" if differing
             else "every pair's texts were identical")
    lines = [f"### Run of {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{commit}`",
             "",
             f"`{args.command}` — {os.cpu_count()} logical cores ({cpu}), server `-np 16 -c 16384 -t {args.threads}{' ' + args.server_flags if args.server_flags else ''}` with `--speculative ngram` or `--draft-model`, "
             f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min). Speedup: median over pairs of "
             "tokens/s with ÷ without speculation (the same request with `\"speculative\": false`), greedy, `ignore_eos`; "
             f"{texts}. Tokens/s columns are medians of each side alone; drafted and accepted "
             "tokens come from /metrics over the row (the speculative requests only).",
             "",
             "| model | row | without tok/s | with tok/s | speedup | drafted → accepted per request | pairs |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for row in run["rows"]:
            drafts = f"{row['drafted_per_request']:.0f} → {row['accepted_per_request']:.0f} of {row['tokens']}"
            lines.append(f"| {run['label']} | {row['row']} | {row['plain_tps']:.1f} | {row['spec_tps']:.1f} | **{row['speedup']:.2f}×** | {drafts} | {row['pairs']} |")
    target = Path(args.target)
    begin, end = "<!-- speculative decoding runs -->", "<!-- end of speculative decoding runs -->"
    text = target.read_text()
    run = "\n".join(lines) + "\n"
    if begin not in text:
        text = text.rstrip("\n") + "\n\n## Speculative decoding\n\n" + begin + "\n\n" + end + "\n"
    text = text.replace(end, run + "\n" + end)
    target.write_text(text)
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--label")
    parser.add_argument("--out")
    parser.add_argument("--report")
    parser.add_argument("--target")
    parser.add_argument("--command")
    parser.add_argument("--threads")
    parser.add_argument("--server-flags", default="")
    parser.add_argument("--rows", default="all", help="all, or draft: only the draft-model row")
    parser.add_argument("--allow-text-differences", action="store_true",
                        help="count pairs whose greedy texts differ instead of stopping (for GPU backends, which round by batch shape)")
    args = parser.parse_args()
    global ALLOW_TEXT_DIFFERENCES
    ALLOW_TEXT_DIFFERENCES = args.allow_text_differences
    report(args) if args.report else measure(args)


if __name__ == "__main__":
    main()
