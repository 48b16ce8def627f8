#!/usr/bin/python3
"""PyTorch baseline for bench/train_bench.c: the same Llama-style model
(RMSNorm, rotary, SwiGLU, untied head), the same batch shape, random tokens,
AdamW; prints `name: value` lines.  Usage: train_bench_torch.py PRESET B T STEPS [MASK_FRAC]

A plain, idiomatic PyTorch implementation (as a user would write it), on
2 threads; with MASK_FRAC < 1 it computes the head and loss only on the
masked rows, as eef does.
"""
import math
import sys
import time

import torch

torch.set_num_threads(2)
preset = sys.argv[1] if len(sys.argv) > 1 else "small"
B = int(sys.argv[2]) if len(sys.argv) > 2 else 4
T = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 3
FRAC = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
V = 2048
D, L, H = {"small": (128, 4, 4), "base": (256, 6, 8), "tiny": (32, 2, 2)}[preset]
F = ((8 * D // 3 + 63) // 64) * 64 if preset != "tiny" else 96
HD = D // H


class RMSNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(D))

    def forward(self, x):
        return self.w * x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(), RMSNorm()
        self.qkv = torch.nn.Linear(D, 3 * D, bias=False)
        self.o = torch.nn.Linear(D, D, bias=False)
        self.w13 = torch.nn.Linear(D, 2 * F, bias=False)
        self.w2 = torch.nn.Linear(F, D, bias=False)

    def forward(self, x, cos, sin):
        q, k, v = self.qkv(self.n1(x)).split(D, dim=-1)

        def rope(t):
            t = t.view(B, T, H, HD // 2, 2)
            t0, t1 = t[..., 0], t[..., 1]
            return torch.stack((t0 * cos - t1 * sin, t0 * sin + t1 * cos), -1).view(B, T, H, HD)

        q, k = rope(q).transpose(1, 2), rope(k).transpose(1, 2)
        v = v.view(B, T, H, HD).transpose(1, 2)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True) \
            if hasattr(torch.nn.functional, "scaled_dot_product_attention") else None
        if a is None:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            a = torch.softmax(s, -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, D))
        g, u = self.w13(self.n2(x)).split(F, dim=-1)
        return x + self.w2(torch.nn.functional.silu(g) * u)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm()
        self.head = torch.nn.Linear(D, V, bias=False)
        i = torch.arange(HD // 2)
        ang = torch.arange(T)[:, None] * (10000.0 ** (-2 * i / HD))[None]
        self.cos, self.sin = torch.cos(ang)[None, :, None], torch.sin(ang)[None, :, None]

    def forward(self, tok, tgt, mask):
        x = self.wte(tok)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        x = self.norm(x).view(-1, D)
        rows = mask.view(-1).nonzero().squeeze(1) if FRAC < 1 else None
        if rows is not None:
            x, t = x[rows], tgt.view(-1)[rows]
        else:
            t = tgt.view(-1)
        return torch.nn.functional.cross_entropy(self.head(x), t)


torch.manual_seed(0)
m = Model()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
tok = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
mask = torch.rand(B, T) < FRAC
t0 = None
for s in range(STEPS + 1):
    if s == 1:
        t0 = time.time()
    opt.zero_grad()
    loss = m(tok, tgt, mask)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
dt = time.time() - t0
tag = preset + ("_agentmask" if FRAC < 1 else "")
print("torch_train_%s_tokens_per_s: %.0f" % (tag, STEPS * B * T / dt))
print("torch_threads: %d" % torch.get_num_threads())
