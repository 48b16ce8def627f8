#!/usr/bin/python3
"""Dense copies of the reduced Llama 3 and Qwen3 tokenizers of
tests/fixtures/hf_tok (whose ids keep the real, sparse numbering up to
128255 / 151668) for the llama.cpp interop models of scripts/interop-gguf:
every token of model.vocab and added_tokens renumbered 0..n-1 in the order
of its original id, everything else (merges, pre-tokenizer, post-processor,
tokenizer_config.json) unchanged.  A GGUF file's vocabulary is dense (one
embedding row per id), so this keeps the interop models small.

Run: /usr/bin/python3 tests/ref/gguf_interop_tok.py   (stdlib only)
"""
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures")

for name in ("llama3", "qwen3"):
    src = os.path.join(ROOT, "hf_tok", name)
    dst = os.path.join(ROOT, "gguf_interop", name)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    old = sorted(list(j["model"]["vocab"].values()) + [a["id"] for a in j["added_tokens"]])
    new = {o: i for i, o in enumerate(old)}
    j["model"]["vocab"] = {k: new[v] for k, v in j["model"]["vocab"].items()}
    for a in j["added_tokens"]:
        a["id"] = new[a["id"]]
    pp = j.get("post_processor")
    if pp and pp.get("type") == "TemplateProcessing":
        for sp in pp.get("special_tokens", {}).values():
            sp["ids"] = [new[i] for i in sp["ids"]]
    with open(os.path.join(dst, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)
    shutil.copyfile(os.path.join(src, "tokenizer_config.json"), os.path.join(dst, "tokenizer_config.json"))
    print(dst, len(old), "tokens")
