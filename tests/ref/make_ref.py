#!/usr/bin/python3
"""Reference tensors for tests/test_nn_ref.c, computed by PyTorch.

An independent implementation of eef's model (Llama-style: RMSNorm, rotary
positions on interleaved pairs, causal attention inside packed segments,
SwiGLU, untied head) and of one AdamW step with global-norm clipping.  It
writes the weights it drew, the batch, the logits, the masked loss, every
gradient and the weights after the step to tests/fixtures/nn_ref.bin.

Run with Debian's python3-torch:  /usr/bin/python3 tests/ref/make_ref.py
(not needed by `make test`; the fixture is committed).

File format (little-endian): b"EEFR", u32 version=1, u32 count, then per
tensor: u32 name length, name bytes, u32 ndim, u32 dims..., f32 data.
"""
import math
import os
import struct
import sys

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)  # reference in double precision

V, D, L, H, F, CTX = 48, 16, 2, 2, 40, 32
HD = D // H
EPS, THETA = 1e-5, 10000.0
LR, B1, B2, ADAM_EPS, WD, CLIP = 1e-2, 0.9, 0.95, 1e-8, 0.1, 0.5

# weights (PyTorch Linear layout [out, in])
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
# the weights are rounded to float32 first, as the C model stores them
for k in P:
    P[k] = P[k].float().double()
init = {k: v.clone() for k, v in P.items()}
for t in P.values():
    t.requires_grad_(True)

# a packed batch: B=2 rows of T=20; row 0 holds sequences of 9 and 11
# positions, row 1 one of 14 then 6 padding positions (own segments)
B, T = 2, 20
g = torch.Generator().manual_seed(99)
tokens = torch.randint(0, V, (B, T), generator=g)
targets = torch.randint(0, V, (B, T), generator=g)
pos = torch.zeros(B, T, dtype=torch.long)
pos[0, :9] = torch.arange(9)
pos[0, 9:] = torch.arange(11)
pos[1, :14] = torch.arange(14)
mask = (torch.rand(B, T, generator=g) < 0.6).double()
mask[1, 14:] = 0


def segment_ids(p):
    seg = torch.cumsum((p == 0).long(), dim=-1)
    return seg


def rmsnorm(x, w):
    return w * x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS)


def rope(x, p):
    # x [B, T, H, HD]; rotate pairs (2i, 2i+1) by p * theta^(-2i/HD)
    i = torch.arange(HD // 2, dtype=torch.float64)
    freq = THETA ** (-2 * i / HD)
    ang = p[..., None].double() * freq  # [B, T, HD/2]
    c, s = torch.cos(ang)[:, :, None, :], torch.sin(ang)[:, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def forward():
    seg = segment_ids(pos)
    allowed = (seg[:, :, None] == seg[:, None, :]) & (
        torch.arange(T)[None, :, None] >= torch.arange(T)[None, None, :])
    x = P["wte"][tokens]
    for l in range(L):
        xn = rmsnorm(x, P["attn_norm"][l])
        qkv = xn @ P["wqkv"][l].T
        q, k, v = qkv.split(D, dim=-1)
        q = rope(q.view(B, T, H, HD), pos).transpose(1, 2)
        k = rope(k.view(B, T, H, HD), pos).transpose(1, 2)
        v = v.view(B, T, H, HD).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        att = att.masked_fill(~allowed[:, None], float("-inf"))
        o = torch.softmax(att, dim=-1) @ v
        o = o.transpose(1, 2).reshape(B, T, D)
        x = x + o @ P["wo"][l].T
        xn = rmsnorm(x, P["mlp_norm"][l])
        h = xn @ P["w13"][l].T
        a, u = h[..., :F], h[..., F:]
        x = x + (torch.nn.functional.silu(a) * u) @ P["w2"][l].T
    x = rmsnorm(x, P["out_norm"])
    return x @ P["head"].T


logits = forward()
nll = torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1), reduction="none")
loss = (nll * mask.view(-1)).sum() / mask.sum()
loss.backward()
grads = {k: v.grad.clone() for k, v in P.items()}

decay = [P[k] for k in ("wte", "wqkv", "wo", "w13", "w2", "head")]
no_decay = [P[k] for k in ("attn_norm", "mlp_norm", "out_norm")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD},
                         {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=(B1, B2), eps=ADAM_EPS)
gnorm = torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
opt.step()

out = []


def add(name, t):
    out.append((name, t.detach().to(torch.float32).contiguous()))


add("config", torch.tensor([V, D, L, H, F, CTX, B, T], dtype=torch.float32))
add("adamw", torch.tensor([LR, B1, B2, ADAM_EPS, WD, CLIP], dtype=torch.float32))
add("tokens", tokens.float())
add("targets", targets.float())
add("pos", pos.float())
add("mask", mask)
for k in init:
    add("w." + k, init[k])
add("logits", logits)
add("loss", loss.reshape(1))
add("grad_norm", gnorm.reshape(1))
for k in grads:
    add("g." + k, grads[k])
for k in P:
    add("step." + k, P[k])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nn_ref.bin")
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
print("wrote %s: loss %.6f, grad norm %.6f, %d tensors" % (path, loss.item(), gnorm.item(), len(out)),
      file=sys.stderr)
