#!/usr/bin/python3
"""One training step, LoRA and full fine-tuning, in plain PyTorch, for
tests/test_train_ref.c.

The model is a random Hugging Face-layout Qwen3-shaped model (grouped-query
attention 4:2, head_dim 16 != hidden/heads, q/k norms, tied head; F32),
written and run by make_hf_ref.py's independent implementation of HF's
modeling semantics (float64).  The batch is agent-shaped: 2 rows of 24
positions, the second holding two packed sequences, loss only on a few
"action" spans (the rest is context), as eef's masks are.

  LoRA step: adapters on all seven projections, r = 4, lora_alpha = 8
    (scale 2), A and B random (a mid-training state: B != 0, so A has a
    gradient), written with PEFT's names in tests/fixtures/train/adapter/
    (adapter_config.json + adapter_model.safetensors, as
    peft.PeftModel.save_pretrained writes them).  The adapted projection
    is y = x W^T + s (x A^T) B^T, computed as x (W + s B A)^T (the same
    function; autograd gives dA and dB through it).
  Full step: every tensor trained.
  Both: masked mean cross-entropy, clip_grad_norm_(1.0) then
    torch.optim.AdamW(lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
    weight decay on matrices only for the full step (norm gains excluded,
    as eef does), on every adapter matrix for LoRA.

ref.bin: tokens, targets, pos, mask [2, 24]; "lora.loss", "lora.gA.<name>",
"lora.gB.<name>", "lora.A1.<name>", "lora.B1.<name>" (after the step;
<name> = the PEFT module path "model.layers.N.self_attn.q_proj");
"full.loss", "full.g.<HF name>", "full.p1.<HF name>".

Run:  /usr/bin/python3 tests/ref/make_train_ref.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_hf_ref as H  # noqa: E402

torch.set_num_threads(2)
OUT = os.path.join(H.HERE, "..", "fixtures", "train")
C = dict(model_type="qwen3", arch="Qwen3ForCausalLM", V=64, D=32, H=4, Hkv=2, hd=16, F=48,
         tied=True, theta=1000000.0, eps=1e-6, dtype="F32", qk_norm=True, head_dim_field=True,
         max_pos=4096, bos=None, eos=[4])
L = 2
RANK, ALPHA = 4, 8.0
LR, WD, CLIP = 1e-2, 0.1, 1.0
MODULES = [("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"),
           ("self_attn", "o_proj"), ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj")]


def adamw(params, decay, no_decay):
    groups = [{"params": decay, "weight_decay": WD}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.95), eps=1e-8)


def masked_loss(logits, targets, mask):
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, C["V"]), targets.reshape(-1),
                                            reduction="none")
    return (nll * mask.reshape(-1)).sum() / mask.sum()


def main():
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "adapter"), exist_ok=True)
    g = torch.Generator().manual_seed(2019)
    specs = H.tensor_specs(C, L)
    W = {n: H.random_tensor(n, s, g).float().double() for n, s in specs}
    d = os.path.join(OUT, "model")
    H.write_weights(d, W, "F32")
    H.write_atomic(os.path.join(d, "config.json"),
                   (json.dumps(H.config_json(C, L), indent=2) + "\n").encode())

    # an agent-shaped batch: context, then short action spans with loss
    B, T, V = 2, 24, C["V"]
    tokens = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    pos = torch.zeros(B, T, dtype=torch.long)
    pos[0] = torch.arange(T)
    pos[1, :13] = torch.arange(13)
    pos[1, 13:] = torch.arange(T - 13)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for r, a, b in [(0, 6, 9), (0, 17, 20), (1, 8, 11), (1, 20, 23)]:
        mask[r, a:b] = 1
    refs = [("tokens", tokens.float()), ("targets", targets.float()), ("pos", pos.float()),
            ("mask", mask)]

    # ---------------------------------------------------------------- LoRA
    s = ALPHA / RANK
    A, Bm, items = {}, {}, []
    for l in range(L):
        for kind, mod in MODULES:
            name = "model.layers.%d.%s.%s" % (l, kind, mod)
            out, inp = W[name + ".weight"].shape
            bound = 1 / math.sqrt(inp)
            A[name] = ((torch.rand((RANK, inp), generator=g, dtype=torch.float64) * 2 - 1) * bound).float().double()
            Bm[name] = (0.2 * torch.randn((out, RANK), generator=g, dtype=torch.float64)).float().double()
            for ab, t in (("A", A[name]), ("B", Bm[name])):
                items.append(("base_model.model.%s.lora_%s.weight" % (name, ab), "F32", t.shape,
                              H.to_bytes(t, "F32")))
    items.sort(key=lambda x: x[0])
    H.write_atomic(os.path.join(OUT, "adapter", "adapter_model.safetensors"),
                   H.safetensors_bytes(items))
    cfg = {"base_model_name_or_path": None, "bias": "none", "fan_in_fan_out": False,
           "inference_mode": True, "init_lora_weights": True, "lora_alpha": ALPHA,
           "lora_dropout": 0.0, "modules_to_save": None, "peft_type": "LORA", "r": RANK,
           "target_modules": [m for _, m in MODULES], "task_type": "CAUSAL_LM",
           "use_dora": False, "use_rslora": False}
    H.write_atomic(os.path.join(OUT, "adapter", "adapter_config.json"),
                   (json.dumps(cfg, indent=2) + "\n").encode())
    PA = {n: t.clone().requires_grad_(True) for n, t in A.items()}
    PB = {n: t.clone().requires_grad_(True) for n, t in Bm.items()}
    Weff = dict(W)
    for n in A:
        Weff[n + ".weight"] = W[n + ".weight"] + s * PB[n] @ PA[n]
    loss = masked_loss(H.forward(C, Weff, L, tokens, pos), targets, mask)
    loss.backward()
    refs.append(("lora.loss", loss.detach().reshape(1)))
    for n in A:
        refs += [("lora.gA." + n, PA[n].grad.clone()), ("lora.gB." + n, PB[n].grad.clone())]
    params = [PA[n] for n in A] + [PB[n] for n in A]
    torch.nn.utils.clip_grad_norm_(params, CLIP)
    opt = adamw(params, params, [])
    opt.step()
    for n in A:
        refs += [("lora.A1." + n, PA[n].detach()), ("lora.B1." + n, PB[n].detach())]

    # ---------------------------------------------------------------- full
    P = {n: t.clone().requires_grad_(True) for n, t in W.items()}
    loss = masked_loss(H.forward(C, P, L, tokens, pos), targets, mask)
    loss.backward()
    refs.append(("full.loss", loss.detach().reshape(1)))
    refs += [("full.g." + n, P[n].grad.clone()) for n, _ in specs]
    decay = [P[n] for n, _ in specs if P[n].dim() == 2]
    no_decay = [P[n] for n, _ in specs if P[n].dim() == 1]
    torch.nn.utils.clip_grad_norm_(list(P.values()), CLIP)
    adamw(None, decay, no_decay).step()
    refs += [("full.p1." + n, P[n].detach()) for n, _ in specs]
    H.write_ref(os.path.join(OUT, "ref.bin"), refs)
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print("%s: %d bytes" % (OUT, size), file=sys.stderr)


if __name__ == "__main__":
    main()
