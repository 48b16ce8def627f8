#!/usr/bin/python3
"""Reference numbers for tests/test_nn_dpo.c, computed by PyTorch.

The DPO loss over trajectory pairs as ETO uses it (Rafailov et al. 2023;
Song et al. 2024): per pair (chosen c, rejected r),

    lp(s) = sum_i m_i log pi(t_i | t_<i)      (m: 1 on action tokens)
    z     = beta * ((lp(c) - ref(c)) - (lp(r) - ref(r)))
    loss  = mean over pairs of -log sigmoid(z)

with the policy pi an independent float64 implementation of eef's model
(as tests/ref/make_ref.py: RMSNorm, rotary positions on interleaved pairs,
causal attention, SwiGLU, untied head), each sequence run on its own (eef
packs them into batch rows; the answer must not depend on that).  The
reference log-probs ref(s) come from a second model: the policy's weights
plus noise, standing for the frozen SFT model.  It writes the weights,
the sequences and masks, ref(s), beta, every lp(s), the loss and every
gradient to tests/fixtures/dpo_ref.bin.

Run with Debian's python3-torch:  /usr/bin/python3 tests/ref/make_dpo_ref.py
(not needed by `make test`; the fixture is committed).

File format (little-endian), as make_ref.py: b"EEFR", u32 version=1,
u32 count, then per tensor: u32 name length, name bytes, u32 ndim,
u32 dims..., f32 data.
"""
import math
import os
import struct
import sys

import torch

torch.set_num_threads(2)
torch.manual_seed(4321)
torch.set_default_dtype(torch.float64)

V, D, L, H, F, CTX = 48, 16, 2, 2, 40, 32
HD = D // H
EPS, THETA = 1e-5, 10000.0
BETA = 0.5


def draw():
    P = {
        "wte": torch.randn(V, D) * 0.3,
        "attn_norm": 1 + 0.1 * torch.randn(L, D),
        "wqkv": torch.randn(L, 3 * D, D) * 0.3,
        "wo": torch.randn(L, D, D) * 0.3,
        "mlp_norm": 1 + 0.1 * torch.randn(L, D),
        "w13": torch.randn(L, 2 * F, D) * 0.3,
        "w2": torch.randn(L, D, F) * 0.3,
        "out_norm": 1 + 0.1 * torch.randn(D),
        "head": torch.randn(V, D) * 0.3,
    }
    return {k: v.float().double() for k, v in P.items()}  # as float32 stores them


P = draw()
init = {k: v.clone() for k, v in P.items()}
REF = {k: (v + 0.05 * torch.randn_like(v)).float().double() for k, v in P.items()}
for t in P.values():
    t.requires_grad_(True)

# 3 pairs; lengths differ inside a pair as trajectories do; masks are
# action spans (runs of 1) between observation spans (runs of 0)
g = torch.Generator().manual_seed(7)
LENS = [(13, 17), (9, 21), (24, 11)]
seqs = []
for lc, lr in LENS:
    for n in (lc, lr):
        tok = torch.randint(0, V, (n,), generator=g)
        m = torch.zeros(n)
        i = 1 + int(torch.randint(0, 3, (1,), generator=g))
        while i < n:  # alternate observation (2-4) and action (2-5) runs
            a = 2 + int(torch.randint(0, 4, (1,), generator=g))
            m[i:i + a] = 1
            i += a + 2 + int(torch.randint(0, 3, (1,), generator=g))
        seqs.append((tok, m))


def rmsnorm(x, w):
    return w * x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS)


def rope(x, p):
    # x [T, H, HD]; rotate pairs (2i, 2i+1) by p * theta^(-2i/HD)
    i = torch.arange(HD // 2, dtype=torch.float64)
    ang = p[:, None].double() * THETA ** (-2 * i / HD)
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def logits_of(W, tokens):
    T = tokens.shape[0]
    pos = torch.arange(T)
    causal = torch.arange(T)[:, None] >= torch.arange(T)[None, :]
    x = W["wte"][tokens]
    for l in range(L):
        xn = rmsnorm(x, W["attn_norm"][l])
        q, k, v = (xn @ W["wqkv"][l].T).split(D, dim=-1)
        q = rope(q.view(T, H, HD), pos).transpose(0, 1)
        k = rope(k.view(T, H, HD), pos).transpose(0, 1)
        v = v.view(T, H, HD).transpose(0, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        att = att.masked_fill(~causal[None], float("-inf"))
        o = (torch.softmax(att, dim=-1) @ v).transpose(0, 1).reshape(T, D)
        x = x + o @ W["wo"][l].T
        h = rmsnorm(x, W["mlp_norm"][l]) @ W["w13"][l].T
        x = x + (torch.nn.functional.silu(h[:, :F]) * h[:, F:]) @ W["w2"][l].T
    return rmsnorm(x, W["out_norm"]) @ W["head"].T


def seq_logprob(W, tok, m):
    # inputs t_0..t_{n-2} predict t_1..t_{n-1}, weighted by m_1..m_{n-1}
    lg = torch.log_softmax(logits_of(W, tok[:-1]), dim=-1)
    return (lg.gather(1, tok[1:, None])[:, 0] * m[1:]).sum()


lp = torch.stack([seq_logprob(P, t, m) for t, m in seqs])
with torch.no_grad():
    ref = torch.stack([seq_logprob(REF, t, m) for t, m in seqs])
# the reference numbers are handed to eef as float64 -> stored float32:
# round them here so both sides use the same values
ref = ref.float().double()
z = BETA * ((lp[0::2] - ref[0::2]) - (lp[1::2] - ref[1::2]))
loss = torch.nn.functional.softplus(-z).mean()
loss.backward()

out = []


def add(name, t):
    out.append((name, t.detach().to(torch.float32).contiguous().reshape(-1) if t.dim() == 0
                else t.detach().to(torch.float32).contiguous()))


add("config", torch.tensor([V, D, L, H, F, CTX, len(LENS), BETA], dtype=torch.float32))
for k in init:
    add("w." + k, init[k])
for i, (t, m) in enumerate(seqs):
    add("seq%d.tokens" % i, t.double())
    add("seq%d.mask" % i, m)
add("ref", ref)
add("lp", lp)
add("z", z)
add("loss", loss.reshape(1))
for k in P:
    add("g." + k, P[k].grad)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "dpo_ref.bin")
with open(path + ".tmp", "wb") as f:
    f.write(b"EEFR")
    f.write(struct.pack("<II", 1, len(out)))
    for name, t in out:
        nb = name.encode()
        f.write(struct.pack("<I", len(nb)))
        f.write(nb)
        f.write(struct.pack("<I", t.dim()))
        f.write(struct.pack("<%dI" % t.dim(), *t.shape))
        f.write(t.numpy().astype("<f4").tobytes())
    f.flush()
    os.fsync(f.fileno())
os.replace(path + ".tmp", path)
print("wrote %s: loss %.6f, z %s, %d tensors" % (path, loss.item(), z.tolist(), len(out)),
      file=sys.stderr)
