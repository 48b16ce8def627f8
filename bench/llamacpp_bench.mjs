// llamacpp_bench.mjs: llama.cpp (node-llama-cpp, its prebuilt CPU build) on
// a GGUF, timed as bench/hf_bench.c times eef: a 128-token prompt at once,
// then 32 greedy tokens one at a time.  Prints `name: value` lines tagged
// with TAG (e.g. 135m_f32): llamacpp_prefill_TAG_tokens_per_s,
// llamacpp_decode_TAG_tokens_per_s and llamacpp_decode_TAG_tokens_per_cpu_s
// (tokens per second of the process's CPU time, all threads).
//   node bench/llamacpp_bench.mjs MODEL.gguf TAG THREADS
// node-llama-cpp is found through NODE_PATH (scripts/run-bench sets it).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [path, tag, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg || 1);
const PROMPT = 128, DECODE = 32;
const require = createRequire(import.meta.url);
const { getLlama } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
const llama = await getLlama({ gpu: false, maxThreads: threads, logLevel: "error" });
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
const ctx = await model.createContext({ contextSize: 512, threads, batchSize: 512 });
const seq = ctx.getSequence();
// random ids as hf_bench's prompt (the synthetic tokenizer means nothing)
const prompt = [];
let r = 9;
for (let i = 0; i < PROMPT; i++) {
  r = (r * 1103515245 + 12345) % 2147483648;
  prompt.push(300 + (r % 40000));
}
// greedy next token with every evaluation, as hf_bench feeds its tokens
// (controlledEvaluate: no detokenizing or stop-text checks per token,
// which seq.evaluate() does and which cost more than the model here)
const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
const feed = (ids) => seq.controlledEvaluate(ids.map((t, i) => (i === ids.length - 1 ? [t, greedy] : t)));
// one warm-up evaluation, as hf_bench does
await feed(prompt.slice(0, 1));
await seq.clearHistory();
const t0 = performance.now();
let res = await feed(prompt);
let next = res[PROMPT - 1].next.token;
const t1 = performance.now();
const c1 = process.cpuUsage();
for (let s = 0; s < DECODE; s++) {
  res = await seq.controlledEvaluate([[next, greedy]]);
  next = res[0].next.token;
}
const t2 = performance.now();
const c = process.cpuUsage(c1);
console.log(`llamacpp_prefill_${tag}_tokens_per_s: ${(PROMPT / ((t1 - t0) / 1e3)).toFixed(1)}`);
console.log(`llamacpp_decode_${tag}_tokens_per_s: ${(DECODE / ((t2 - t1) / 1e3)).toFixed(1)}`);
console.log(`llamacpp_decode_${tag}_tokens_per_cpu_s: ${(DECODE / ((c.user + c.system) / 1e6)).toFixed(1)}`);
await ctx.dispose();
await model.dispose();
await llama.dispose();
