#!/usr/bin/python3
"""Hugging Face model directories with random weights, and reference outputs
computed by an independent PyTorch implementation, for tests/test_hf.c.

The model is written from Hugging Face's modeling semantics for llama,
mistral, qwen2 and qwen3 (transformers' modeling_llama.py, modeling_qwen2.py,
modeling_qwen3.py): RMSNorm (x / sqrt(mean(x^2) + eps) * weight), q/k/v
projections (biased in qwen2), per-head q/k RMSNorm over head_dim before the
rotary embedding (qwen3), rotary embedding in the rotate_half layout with
cos/sin of cat(freqs, freqs), llama3 frequency scaling, grouped-query
attention (repeat_kv: query head h reads key/value head h // (H / Hkv)),
scores scaled by head_dim^-0.5, SiLU-gated MLP, tied or untied head.  The
reference runs in float64 on the weights as stored (rounded to the file's
dtype).  transformers itself is not used (nor available).

Fixtures (tests/fixtures/hf/<name>/), 2 layers each, widths shrunk but with
the real ratios of query heads : key/value heads : head_dim of
  llama32   Llama-3.2-1B   32:8 heads, head_dim = hidden/heads, tied,
            llama3 rope scaling (original context shrunk to 256 so every
            frequency band is hit at the fixture's positions), sharded
            (two files + model.safetensors.index.json), F32
  qwen25    Qwen2.5-0.5B   14:2 heads, q/k/v biases, tied, F32
  qwen3     Qwen3-0.6B     16:8 heads, head_dim = 2 hidden/heads, q/k norms,
            tied, BF16
  smollm2   SmolLM2-135M   9:3 heads, tied, F32
  mistral   Mistral-7B     32:8 heads, untied, sliding_window 4096, F16
Each directory holds config.json, generation_config.json, the safetensors
and ref.bin: the batch (tokens, positions of 2 rows of 16, the second row
two packed sequences), "logits" [2*16, V] of the weights as stored,
"logits_bf16" of the weight matrices rounded to bf16 (f32 fixtures; norm gains
and biases kept, as eef keeps them in f32), and for qwen25
and qwen3 the masked cross-entropy ("loss") with its gradient for every
tensor ("g.<HF name>").

ref.bin (little-endian): b"EEFR", u32 version=1, u32 count, then per tensor:
u32 name length, name, u32 ndim, u32 dims..., f32 data.

safetensors is written here from its specification (torch 1.13 has no
safetensors package): u64 header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{"format": "pt"}} padded with spaces to a multiple of 8, then the data.

Run:  /usr/bin/python3 tests/ref/make_hf_ref.py            (the fixtures)
      /usr/bin/python3 tests/ref/make_hf_ref.py --full NAME DTYPE OUT_DIR
            a full-depth random model at a real shape (NAME smollm2-135m,
            qwen25-0.5b or llama32-1b; DTYPE f32 or bf16), written tensor by
            tensor, for memory and speed measurements (not committed).
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "hf")

# ------------------------------------------------------------ configs
FIXTURES = {
    "llama32": dict(model_type="llama", arch="LlamaForCausalLM", V=64, D=32, H=4, Hkv=1, hd=8,
                    F=128, tied=True, theta=500000.0, eps=1e-5, dtype="F32", shards=2,
                    rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                                      high_freq_factor=4.0, original_max_position_embeddings=256),
                    max_pos=131072, bos=1, eos=[2, 3]),
    "qwen25": dict(model_type="qwen2", arch="Qwen2ForCausalLM", V=80, D=56, H=7, Hkv=1, hd=8,
                   F=32, tied=True, theta=1000000.0, eps=1e-6, dtype="F32", bias=True,
                   max_pos=32768, bos=None, eos=[5, 6], grads=True),
    "qwen3": dict(model_type="qwen3", arch="Qwen3ForCausalLM", V=64, D=32, H=4, Hkv=2, hd=16,
                  F=96, tied=True, theta=1000000.0, eps=1e-6, dtype="BF16", qk_norm=True,
                  head_dim_field=True, max_pos=40960, bos=None, eos=[4], grads=True),
    "smollm2": dict(model_type="llama", arch="LlamaForCausalLM", V=48, D=24, H=3, Hkv=1, hd=8,
                    F=64, tied=True, theta=100000.0, eps=1e-5, dtype="F32", max_pos=8192,
                    bos=1, eos=[2]),
    "mistral": dict(model_type="mistral", arch="MistralForCausalLM", V=64, D=32, H=4, Hkv=1, hd=8,
                    F=112, tied=False, theta=10000.0, eps=1e-5, dtype="F16", sliding_window=4096,
                    max_pos=32768, bos=1, eos=[2]),
}

# the real shapes, full depth, for measurements
FULL = {
    "smollm2-135m": dict(model_type="llama", arch="LlamaForCausalLM", V=49152, D=576, H=9, Hkv=3,
                         hd=64, F=1536, L=30, tied=True, theta=100000.0, eps=1e-5, max_pos=8192,
                         bos=1, eos=[2]),
    "qwen25-0.5b": dict(model_type="qwen2", arch="Qwen2ForCausalLM", V=151936, D=896, H=14, Hkv=2,
                        hd=64, F=4864, L=24, tied=True, theta=1000000.0, eps=1e-6, bias=True,
                        max_pos=32768, bos=None, eos=[151645, 151643]),
    "llama32-1b": dict(model_type="llama", arch="LlamaForCausalLM", V=128256, D=2048, H=32, Hkv=8,
                       hd=64, F=8192, L=16, tied=True, theta=500000.0, eps=1e-5,
                       rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                                         high_freq_factor=4.0,
                                         original_max_position_embeddings=8192),
                       max_pos=131072, bos=128000, eos=[128001, 128008, 128009]),
}

TORCH_DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def config_json(c, L):
    j = {
        "architectures": [c["arch"]], "model_type": c["model_type"], "vocab_size": c["V"],
        "hidden_size": c["D"], "intermediate_size": c["F"], "num_hidden_layers": L,
        "num_attention_heads": c["H"], "num_key_value_heads": c["Hkv"],
        "max_position_embeddings": c["max_pos"], "rms_norm_eps": c["eps"],
        "rope_theta": c["theta"], "hidden_act": "silu", "tie_word_embeddings": c["tied"],
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[c.get("dtype", "F32")],
        "initializer_range": 0.02, "use_cache": True, "attention_dropout": 0.0,
        "rope_scaling": c.get("rope_scaling"),
    }
    if c.get("head_dim_field") or c["hd"] * c["H"] != c["D"]:
        j["head_dim"] = c["hd"]
    if c["model_type"] in ("llama", "qwen3", "mistral"):
        j["attention_bias"] = False
    if c["model_type"] == "llama":
        j["mlp_bias"] = False
        j["pretraining_tp"] = 1
    if c["model_type"] in ("qwen2", "qwen3"):
        j["use_sliding_window"] = False
        j["sliding_window"] = None
        j["max_window_layers"] = L
    if c["model_type"] == "mistral":
        j["sliding_window"] = c.get("sliding_window")
    if c["bos"] is not None:
        j["bos_token_id"] = c["bos"]
    j["eos_token_id"] = c["eos"][0]
    return j


def tensor_specs(c, L):
    """(HF name, shape) in the order transformers' state_dict lists them."""
    V, D, H, Hkv, hd, F = c["V"], c["D"], c["H"], c["Hkv"], c["hd"], c["F"]
    out = [("model.embed_tokens.weight", (V, D))]
    for l in range(L):
        p = "model.layers.%d." % l
        out += [(p + "self_attn.q_proj.weight", (H * hd, D))]
        if c.get("bias"):
            out += [(p + "self_attn.q_proj.bias", (H * hd,))]
        out += [(p + "self_attn.k_proj.weight", (Hkv * hd, D))]
        if c.get("bias"):
            out += [(p + "self_attn.k_proj.bias", (Hkv * hd,))]
        out += [(p + "self_attn.v_proj.weight", (Hkv * hd, D))]
        if c.get("bias"):
            out += [(p + "self_attn.v_proj.bias", (Hkv * hd,))]
        out += [(p + "self_attn.o_proj.weight", (D, H * hd))]
        if c.get("qk_norm"):
            out += [(p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,))]
        out += [(p + "mlp.gate_proj.weight", (F, D)), (p + "mlp.up_proj.weight", (F, D)),
                (p + "mlp.down_proj.weight", (D, F)), (p + "input_layernorm.weight", (D,)),
                (p + "post_attention_layernorm.weight", (D,))]
    out += [("model.norm.weight", (D,))]
    if not c["tied"]:
        out += [("lm_head.weight", (V, D))]
    return out


def random_tensor(name, shape, g):
    """Weights that keep activations O(1): gains near 1, biases small,
    matrices of std 1/sqrt(fan_in), the embedding of std 1."""
    if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
        return 1 + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    if name.endswith(".bias"):
        return 0.3 * torch.randn(shape, generator=g, dtype=torch.float64)
    if name == "model.embed_tokens.weight":
        return torch.randn(shape, generator=g, dtype=torch.float64)
    return torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(shape[1])


# ------------------------------------------------------------ safetensors
def to_bytes(t, dt):
    return t.to(TORCH_DT[dt]).contiguous().view(torch.uint8).numpy().tobytes() \
        if dt != "F32" else t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def safetensors_bytes(items):
    """items: [(name, dtype, shape, bytes)] -> the file's bytes."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shape, data in items:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(d for _, _, _, d in items)


def write_weights(d, weights, dt, shards=1):
    names = list(weights)
    items = [(n, dt, weights[n].shape, to_bytes(weights[n], dt)) for n in names]
    if shards == 1:
        write_atomic(os.path.join(d, "model.safetensors"), safetensors_bytes(items))
        return
    per = (len(items) + shards - 1) // shards
    wmap, total = {}, 0
    for s in range(shards):
        fn = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = items[s * per:(s + 1) * per]
        write_atomic(os.path.join(d, fn), safetensors_bytes(part))
        for n, _, _, data in part:
            wmap[n] = fn
            total += len(data)
    idx = {"metadata": {"total_size": total}, "weight_map": dict(sorted(wmap.items()))}
    write_atomic(os.path.join(d, "model.safetensors.index.json"),
                 (json.dumps(idx, indent=2) + "\n").encode())


# ------------------------------------------------------------ the reference model
def inv_freq(c):
    hd, theta = c["hd"], c["theta"]
    f = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = c.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        scaled = torch.where(wavelen > orig / lo, f / factor, f)
        smooth = (orig / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= orig / hi) & (wavelen <= orig / lo)
        f = torch.where(medium, smoothed, scaled)
    return f


def rmsnorm(x, w, eps):
    return w * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(c, W, L, tokens, pos):
    B, T = tokens.shape
    V, D, H, Hkv, hd, eps = c["V"], c["D"], c["H"], c["Hkv"], c["hd"], c["eps"]
    G = H // Hkv
    ang = pos[..., None].double() * inv_freq(c)          # [B, T, hd/2]
    emb = torch.cat((ang, ang), dim=-1)                   # [B, T, hd]
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]     # [B, 1, T, hd]
    seg = torch.cumsum((pos == 0).long(), dim=-1)
    allowed = (seg[:, :, None] == seg[:, None, :]) & (
        torch.arange(T)[None, :, None] >= torch.arange(T)[None, None, :])
    x = W["model.embed_tokens.weight"][tokens]
    for l in range(L):
        p = "model.layers.%d." % l
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)

        def proj(n):
            y = h @ W[p + "self_attn.%s_proj.weight" % n].T
            if c.get("bias"):
                y = y + W[p + "self_attn.%s_proj.bias" % n]
            return y
        q = proj("q").view(B, T, H, hd)
        k = proj("k").view(B, T, Hkv, hd)
        v = proj("v").view(B, T, Hkv, hd)
        if c.get("qk_norm"):
            q = rmsnorm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(G, dim=1)                 # repeat_kv
        v = v.repeat_interleave(G, dim=1)
        s = (q @ k.transpose(-1, -2)) * hd ** -0.5
        s = s.masked_fill(~allowed[:, None], float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = h @ W[p + "mlp.gate_proj.weight"].T
        up = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ W[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if c["tied"] else W["lm_head.weight"]
    return x @ head.T


def write_ref(path, tensors):
    out = [b"EEFR", struct.pack("<II", 1, len(tensors))]
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous()
        nb = name.encode()
        out += [struct.pack("<I", len(nb)), nb, struct.pack("<I", t.dim()),
                struct.pack("<%dI" % t.dim(), *t.shape), t.numpy().astype("<f4").tobytes()]
    write_atomic(path, b"".join(out))


def make_fixture(name, c, seed):
    L = 2
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    g = torch.Generator().manual_seed(seed)
    specs = tensor_specs(c, L)
    W = {n: random_tensor(n, s, g) for n, s in specs}
    dt = c["dtype"]
    # the reference runs on the weights as the file stores them
    stored = {n: t.to(TORCH_DT[dt]).double() for n, t in W.items()}
    write_weights(d, stored, dt, c.get("shards", 1))
    write_atomic(os.path.join(d, "config.json"), (json.dumps(config_json(c, L), indent=2) + "\n").encode())
    gen = {"_from_model_config": False, "eos_token_id": c["eos"] if len(c["eos"]) > 1 else c["eos"][0]}
    if c["bos"] is not None:
        gen["bos_token_id"] = c["bos"]
    write_atomic(os.path.join(d, "generation_config.json"), (json.dumps(gen, indent=2) + "\n").encode())

    B, T, V = 2, 16, c["V"]
    tokens = torch.randint(0, V, (B, T), generator=g)
    pos = torch.zeros(B, T, dtype=torch.long)
    pos[0] = torch.arange(T)
    pos[1, :9] = torch.arange(9)
    pos[1, 9:] = torch.arange(T - 9)
    refs = [("tokens", tokens.float()), ("pos", pos.float())]
    with torch.no_grad():
        refs.append(("logits", forward(c, stored, L, tokens, pos).reshape(B * T, V)))
        if dt == "F32":
            # eef converts the matrices (2-D) to bf16 and keeps norms and biases in f32
            as_bf16 = {n: t.to(torch.bfloat16).double() if t.dim() == 2 else t
                       for n, t in stored.items()}
            refs.append(("logits_bf16", forward(c, as_bf16, L, tokens, pos).reshape(B * T, V)))
    if c.get("grads"):
        targets = torch.randint(0, V, (B, T), generator=g)
        mask = (torch.rand(B, T, generator=g) < 0.6).double()
        P = {n: t.clone().requires_grad_(True) for n, t in stored.items()}
        logits = forward(c, P, L, tokens, pos)
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                                                reduction="none")
        loss = (nll * mask.reshape(-1)).sum() / mask.sum()
        loss.backward()
        refs += [("targets", targets.float()), ("mask", mask), ("loss", loss.reshape(1))]
        refs += [("g." + n, P[n].grad) for n, _ in specs]
    write_ref(os.path.join(d, "ref.bin"), refs)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("%s: %d files, %d bytes" % (d, len(os.listdir(d)), size), file=sys.stderr)


def make_full(name, dt, out_dir):
    """A full-depth random model, written tensor by tensor (bounded memory)."""
    c = dict(FULL[name])
    c["dtype"] = {"f32": "F32", "bf16": "BF16"}[dt]
    L = c["L"]
    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    specs = tensor_specs(c, L)
    esize = 4 if c["dtype"] == "F32" else 2
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for n, s in specs:
        nb = esize * math.prod(s)
        header[n] = {"dtype": c["dtype"], "shape": list(s), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path = os.path.join(out_dir, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for n, s in specs:
            # float32, 4096 rows at a time: memory stays small at any size;
            # std 0.02 for the embedding, 1/sqrt(fan_in) / 20 for matrices
            if len(s) == 1:
                f.write(to_bytes(random_tensor(n, s, g).float(), c["dtype"]))
                continue
            std = 0.02 if n == "model.embed_tokens.weight" else 0.05 / math.sqrt(s[1])
            for r in range(0, s[0], 4096):
                rows = min(4096, s[0] - r)
                f.write(to_bytes(torch.randn((rows, s[1]), generator=g) * std, c["dtype"]))
    os.replace(path + ".tmp", path)
    write_atomic(os.path.join(out_dir, "config.json"), (json.dumps(config_json(c, L), indent=2) + "\n").encode())
    print("%s: %s %s, %d bytes of weights" % (out_dir, name, dt, off), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--full":
        make_full(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        for i, (name, c) in enumerate(FIXTURES.items()):
            make_fixture(name, c, 1000 + i)
