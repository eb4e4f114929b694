#!/usr/bin/env python3
"""Writes a llama-architecture GGUF with random Q8_0 weights of a chosen size, reusing the tokenizer
metadata of an existing GGUF (default: TinyStories-656K-Q8_0.gguf). Throughput and kernel paths depend
on shapes and quant type, not on the weight values ("dummy weights"). Standard library only.

usage: make_dummy_model.py SOURCE.gguf OUT.gguf [--embd 512] [--ff 1536] [--layers 4] [--heads 8] [--kv-heads 4]
"""
import argparse, math, random, struct

def read_str(f):
    n, = struct.unpack('<Q', f.read(8)); return f.read(n).decode()

SCALAR = {0:'<B',1:'<b',2:'<H',3:'<h',4:'<I',5:'<i',6:'<f',7:'<?',10:'<Q',11:'<q',12:'<d'}

def read_value(f, t):
    if t in SCALAR:
        fmt = SCALAR[t]; return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if t == 8: return read_str(f)
    if t == 9:
        et, n = struct.unpack('<IQ', f.read(12)); return (et, [read_value(f, et) for _ in range(n)])
    raise ValueError(t)

def write_str(out, s):
    b = s.encode(); out.write(struct.pack('<Q', len(b))); out.write(b)

def write_value(out, t, v):
    if t in SCALAR: out.write(struct.pack(SCALAR[t], v))
    elif t == 8: write_str(out, v)
    elif t == 9:
        et, items = v; out.write(struct.pack('<IQ', et, len(items)))
        for x in items: write_value(out, et, x)

def q8_0(rows, cols, rng, std=0.02):
    # Block: float16 scale, then 32 int8 quants (uniform bytes: std ≈ 74 * scale).
    d = struct.pack('<e', std / 74)
    return b''.join(d + rng.randbytes(32) for _ in range(rows * cols // 32))

def main():
    a = argparse.ArgumentParser()
    a.add_argument('source'); a.add_argument('out')
    a.add_argument('--embd', type=int, default=512); a.add_argument('--ff', type=int, default=1536)
    a.add_argument('--layers', type=int, default=4); a.add_argument('--heads', type=int, default=8)
    a.add_argument('--kv-heads', type=int, default=4)
    o = a.parse_args()
    with open(o.source, 'rb') as f:
        assert f.read(4) == b'GGUF'
        version, n_tensors, n_kv = struct.unpack('<IQQ', f.read(20))
        kv = []
        for _ in range(n_kv):
            k = read_str(f); t, = struct.unpack('<I', f.read(4)); kv.append((k, t, read_value(f, t)))
    vocab = next(len(v[1]) for k, t, v in kv if k == 'tokenizer.ggml.tokens')
    override = {'llama.embedding_length': o.embd, 'llama.feed_forward_length': o.ff, 'llama.block_count': o.layers,
                'llama.attention.head_count': o.heads, 'llama.attention.head_count_kv': o.kv_heads,
                'llama.rope.dimension_count': o.embd // o.heads}
    kv = [(k, t, override.get(k, v)) for k, t, v in kv if k != 'general.alignment']
    kv.append(('general.name', 8, f'dummy-{o.embd}x{o.layers}-q8_0'))
    kv = list({k: (k, t, v) for k, t, v in kv}.values())
    e, ff, kvd = o.embd, o.ff, o.embd // o.heads * o.kv_heads
    tensors = [('token_embd.weight', (e, vocab), 8), ('output_norm.weight', (e,), 0), ('output.weight', (e, vocab), 8)]
    for i in range(o.layers):
        p = f'blk.{i}.'
        tensors += [(p+'attn_norm.weight', (e,), 0), (p+'attn_q.weight', (e, e), 8), (p+'attn_k.weight', (e, kvd), 8),
                    (p+'attn_v.weight', (e, kvd), 8), (p+'attn_output.weight', (e, e), 8), (p+'ffn_norm.weight', (e,), 0),
                    (p+'ffn_gate.weight', (e, ff), 8), (p+'ffn_up.weight', (e, ff), 8), (p+'ffn_down.weight', (ff, e), 8)]
    rng = random.Random(0)
    blobs = []
    for name, shape, t in tensors:
        blobs.append(struct.pack(f'<{shape[0]}f', *([1.0] * shape[0])) if t == 0 else q8_0(shape[1], shape[0], rng))
    with open(o.out, 'wb') as out:
        out.write(b'GGUF'); out.write(struct.pack('<IQQ', 3, len(tensors), len(kv)))
        for k, t, v in kv:
            write_str(out, k); out.write(struct.pack('<I', t)); write_value(out, t, v)
        offset = 0
        for (name, shape, t), blob in zip(tensors, blobs):
            write_str(out, name); out.write(struct.pack('<I', len(shape)))
            for d in shape: out.write(struct.pack('<Q', d))
            out.write(struct.pack('<IQ', t, offset)); offset += (len(blob) + 31) // 32 * 32
        out.write(b'\0' * (-out.tell() % 32))
        for blob in blobs:
            out.write(blob); out.write(b'\0' * (-len(blob) % 32))
    params = sum(math.prod(s) for _, s, _ in tensors)
    print(f'wrote {o.out}: {params/1e6:.1f}M parameters, vocab {vocab}')

if __name__ == '__main__':
    main()
