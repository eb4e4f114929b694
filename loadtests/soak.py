#!/usr/bin/env python3
"""Soak driver: STREAMS clients stream chat completions for DURATION seconds; a fraction of the streams is cut
off mid-answer (the client closes the socket after a few chunks). Counts every outcome and samples the server's
resident memory (VmRSS of --pid) after the warm-up and at the end. Prints one JSON object. Standard library only.
"""
import argparse, http.client, json, random, socket, threading, time
from urllib.parse import urlparse

WORDS = ("once upon a time there was a little girl named lily she liked to play in the park with her dog "
         "one day they found a big red ball under a tree and the sun was warm so they ran home happy").split()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


def one_stream(url, model, rng, abort, tally):
    prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 48)))
    body = json.dumps({"model": model, "stream": True, "max_tokens": rng.randint(32, 128), "ignore_eos": True,
                       "messages": [{"role": "user", "content": prompt}]})
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        connection.request("POST", url.path.rstrip("/") + "/chat/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status >= 500:
            tally.add("5xx")
        if response.status != 200:
            tally.add(f"http_{response.status}")
            response.read()
            return
        cut_after = rng.randint(1, 12) if abort else None
        chunks, done = 0, False
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            if '"error"' in data and '"choices"' not in data:
                tally.add("stream_error")
                return
            chunks += 1
            if cut_after is not None and chunks >= cut_after:
                # Cut the connection under the server, as a client that goes away does.
                connection.sock.shutdown(socket.SHUT_RDWR)
                tally.add("aborted")
                return
        tally.add("completed" if done else "broken_stream")
    except (OSError, http.client.HTTPException) as error:
        tally.add(f"connection_{type(error).__name__}")
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--abort-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    url = urlparse(args.base_url)

    tally = Tally()
    start = time.monotonic()
    deadline = start + args.duration
    samples = {}

    def worker(index):
        rng = random.Random(args.seed * 1000 + index)
        while time.monotonic() < deadline:
            one_stream(url, args.model, rng, rng.random() < args.abort_fraction, tally)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.streams)]
    for thread in threads:
        thread.start()
    time.sleep(min(args.warmup, args.duration))
    samples["rss_after_warmup_kib"] = rss_kib(args.pid)
    peak = samples["rss_after_warmup_kib"]
    while any(thread.is_alive() for thread in threads):
        time.sleep(1)
        peak = max(peak, rss_kib(args.pid))
    time.sleep(2)
    samples["rss_end_kib"] = rss_kib(args.pid)
    samples["rss_peak_kib"] = peak
    counts = tally.counts
    print(json.dumps({
        "duration_s": round(time.monotonic() - start, 1), "streams": args.streams, "abort_fraction": args.abort_fraction,
        "requests": sum(v for k, v in counts.items() if k != "5xx"), "counts": counts, "server_errors_5xx": counts.get("5xx", 0),
        **samples,
        "rss_change_percent": round(100.0 * (samples["rss_end_kib"] - samples["rss_after_warmup_kib"]) / max(1, samples["rss_after_warmup_kib"]), 1),
    }))


if __name__ == "__main__":
    main()
