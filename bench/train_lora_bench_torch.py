#!/usr/bin/python3
"""PyTorch baseline for bench/train_lora_bench.c: the same SmolLM2-135M-shaped
model (Hugging Face's Llama semantics: RMSNorm, rotate_half rotary, 9:3
grouped-query attention, SwiGLU, tied head), random tokens, loss on a
MASK_FRAC share of positions (the head and loss on those rows only, as eef
does), clip_grad_norm_ and AdamW; LoRA r = 16, alpha 32 on all seven
projections of a frozen f32 base (plain PyTorch: y = base(x) + s (x A^T) B^T,
the base's weights with requires_grad False, so autograd computes no weight
gradient for them), or over a frozen bf16 base (lora_bf16: the base's
products in bf16, x cast to bf16 and the result back to f32, as eef's
bf16 products and as PyTorch runs a bf16 layer; the rest in f32), or full
fine-tuning.  Prints tokens/s and peak RSS.

Usage: train_lora_bench_torch.py lora|lora_bf16|full B T STEPS MASK_FRAC
"""
import math
import resource
import sys
import time

import torch

torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "2")))
MODE = sys.argv[1] if len(sys.argv) > 1 else "lora"
B = int(sys.argv[2]) if len(sys.argv) > 2 else 2
T = int(sys.argv[3]) if len(sys.argv) > 3 else 512
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 2
FRAC = float(sys.argv[5]) if len(sys.argv) > 5 else 0.15
V, D, L, H, HKV, F, HD = 49152, 576, 30, 9, 3, 1536, 64
R, ALPHA = 16, 32.0
LORA = MODE.startswith("lora")
BF16 = MODE == "lora_bf16"


class Proj(torch.nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.base = torch.nn.Linear(i, o, bias=False)
        torch.nn.init.normal_(self.base.weight, std=0.02)
        if LORA:
            self.base.weight.requires_grad_(False)
            self.A = torch.nn.Parameter(torch.empty(R, i).uniform_(-1 / math.sqrt(i), 1 / math.sqrt(i)))
            self.B = torch.nn.Parameter(torch.zeros(o, R))
        if BF16:
            self.base = self.base.to(torch.bfloat16)

    def forward(self, x):
        y = self.base(x.to(torch.bfloat16)).float() if BF16 else self.base(x)
        if LORA:
            y = y + (ALPHA / R) * ((x @ self.A.t()) @ self.B.t())
        return y


class RMSNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(D), requires_grad=not LORA)

    def forward(self, x):
        return self.w * x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5)


def rotate_half(x):
    return torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), -1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(), RMSNorm()
        self.q, self.k, self.v = Proj(D, H * HD), Proj(D, HKV * HD), Proj(D, HKV * HD)
        self.o = Proj(H * HD, D)
        self.gate, self.up, self.down = Proj(D, F), Proj(D, F), Proj(F, D)

    def forward(self, x, cos, sin, causal):
        h = self.n1(x)
        q = self.q(h).view(B, T, H, HD).transpose(1, 2)
        k = self.k(h).view(B, T, HKV, HD).transpose(1, 2)
        v = self.v(h).view(B, T, HKV, HD).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // HKV, 1), v.repeat_interleave(H // HKV, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        a = torch.softmax(s.masked_fill(causal, float("-inf")), -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, H * HD))
        h = self.n2(x)
        return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        torch.nn.init.normal_(self.wte.weight, std=0.02)
        self.wte.weight.requires_grad_(not LORA)
        self.wbf = self.wte.weight.detach().to(torch.bfloat16) if BF16 else None
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm()
        inv = 1.0 / (100000.0 ** (torch.arange(0, HD, 2).float() / HD))
        ang = torch.arange(T)[:, None].float() * inv[None]
        emb = torch.cat((ang, ang), -1)
        self.cos, self.sin = emb.cos()[None, None], emb.sin()[None, None]
        self.causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)

    def forward(self, tok, tgt, rows):
        x = self.wte(tok)
        for b in self.blocks:
            x = b(x, self.cos, self.sin, self.causal)
        x = self.norm(x).view(-1, D)[rows]
        w = self.wte.weight
        logits = (x.to(torch.bfloat16) @ self.wbf.t()).float() if BF16 else x @ w.t()
        return torch.nn.functional.cross_entropy(logits, tgt.view(-1)[rows])


torch.manual_seed(0)
m = Model()
params = [p for p in m.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
tok = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
rows = (torch.rand(B * T) < FRAC).nonzero().squeeze(1)
t0 = None
for s in range(STEPS + 1):
    if s == 1:
        t0 = time.time()
    opt.zero_grad()
    loss = m(tok, tgt, rows)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
dt = time.time() - t0
print("torch_train_135m_%s_tokens_per_s: %.0f" % (MODE, STEPS * B * T / dt))
print("torch_train_135m_%s_peak_rss_mb: %.0f" % (MODE, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
