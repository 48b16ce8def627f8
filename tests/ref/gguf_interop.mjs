// gguf_interop.mjs: llama.cpp's answers on eef's GGUF files, for
// tests/test_gguf_interop.c (run by scripts/interop-gguf, which says how).
//
//   node tests/ref/gguf_interop.mjs NODE_MODULES MODELS_DIR CASES_JSON OUT_JSON [NAME,...]
// (NAMEs: only those models; scripts/interop-gguf runs several at once and
// merges their outputs)
//
// With node-llama-cpp's prebuilt CPU llama.cpp (2 threads, f32 KV cache), for every
// MODELS_DIR/*.gguf: the file's size and CRC-32 (the test regenerates the
// file and checks it is the same), the token ids of every valid UTF-8
// text of cases.json (plain, and with special tokens parsed), and greedy
// generations of 16 tokens after three prompts with, at every step, the
// chosen token and llama.cpp's 8 most probable next tokens with their
// probabilities (softmax of the logits at temperature 1; the choice is
// the argmax).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [modules, dir, casesPath, outPath, only] = process.argv.slice(2);
const wanted = only ? new Set(only.split(",")) : null;
const { getLlama } = await import(path.join(modules, "node-llama-cpp/dist/index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const texts = cases.texts
    .map((t, i) => ({ name: t.name, text: Buffer.from(t.hex, "hex").toString("utf8"), valid: cases.validity[i] }))
    .filter((t) => t.valid && Buffer.from(t.text, "utf8").toString("hex") === cases.texts.find((x) => x.name === t.name).hex);
const prompts = ["The quick brown fox jumps over the lazy dog.", "def main():\n    print(", "Once upon a time, 1 2 3"];
const TOPK = 8, STEPS = 16;

const out = { llama_cpp: "node-llama-cpp 3.21.1 (prebuilt CPU llama.cpp)", threads: 2, texts: texts.map((t) => t.name),
              prompts, models: {} };
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".gguf") && (!wanted || wanted.has(f.replace(/\.gguf$/, "")))).sort()) {
    const full = path.join(dir, file);
    const bytes = fs.readFileSync(full);
    const model = await llama.loadModel({ modelPath: full, gpuLayers: 0 });
    // f32 KV cache, no flash attention: llama.cpp's attention in f32, as eef's
    const ctx = await model.createContext({ contextSize: 256, threads: 2, batchSize: 256, flashAttention: false,
                                            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
    const seq = ctx.getSequence();
    const rec = { size: bytes.length, crc32: zlib.crc32(bytes), tokenize: [], generate: [] };
    for (const t of texts)
        rec.tokenize.push({ plain: Array.from(model.tokenize(t.text, false)), special: Array.from(model.tokenize(t.text, true)) });
    const bos = model.tokens.bos;
    for (const p of prompts) {
        await seq.clearHistory();
        const ids = (bos != null ? [bos] : []).concat(Array.from(model.tokenize(p, false)));
        const steps = [];
        // the prompt one token at a time, as eef decodes it (llama.cpp's
        // batched prompt kernels round the activations of some batch shapes
        // differently: that is llama.cpp against itself, not against eef)
        for (const t of ids.slice(0, -1)) await seq.controlledEvaluate([t]);
        let input = ids.slice(-1);
        for (let s = 0; s < STEPS; s++) {
            const items = input.map((t, i) => i === input.length - 1
                ? [t, { generateNext: { token: true, probabilities: true, options: { temperature: 0 } } }] : t);
            const res = await seq.controlledEvaluate(items);
            const next = res[input.length - 1].next;
            const top = [...next.probabilities.entries()].slice(0, TOPK);
            steps.push({ token: next.token, top });
            input = [next.token];
        }
        rec.generate.push({ prompt_ids: ids, steps });
    }
    out.models[file.replace(/\.gguf$/, "")] = rec;
    console.log(`${file}: ${texts.length} texts, ${prompts.length} x ${STEPS} greedy steps`);
    await ctx.dispose();
    await model.dispose();
}
fs.writeFileSync(outPath, JSON.stringify(out) + "\n");
