// gguf_bench_llamacpp.mjs: llama.cpp (node-llama-cpp's prebuilt CPU build)
// on the files bench/gguf_bench.c wrote, measured as that benchmark
// measures eef: decode 32 tokens one at a time (greedy) after a 16-token
// prompt, and a 128-token prompt at once (best of 2), with the same
// threads.  Prints `name: value` lines, tokens per second of wall time and
// of the process's CPU time (..._tokens_per_cpu_s; llama.cpp's threads
// spin while they wait, which counts).
//
//   node bench/gguf_bench_llamacpp.mjs NODE_MODULES DIR THREADS [TYPE]
import path from "node:path";
import fs from "node:fs";

const [modules, dir, threads, only] = process.argv.slice(2);
const cpuSeconds = (since) => { const c = process.cpuUsage(since); return (c.user + c.system) / 1e6; };
const { getLlama } = await import(path.join(modules, "node-llama-cpp/dist/index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const PROMPT = 16, DECODE = 32, PREFILL = 128;
const ids = Array.from({ length: PREFILL }, (_, i) => 3 + (i * 37) % 250);
for (const type of ["q8_0", "q4_k"].filter((t) => !only || t === only)) {
    const file = path.join(dir, `qwen2_0p5b_${type}.gguf`);
    if (!fs.existsSync(file)) continue;
    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    const ctx = await model.createContext({ contextSize: 512, threads: Number(threads), batchSize: 512 });
    const seq = ctx.getSequence();
    const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
    let input = ids.slice(0, PROMPT);
    let res = await seq.controlledEvaluate(input.map((t, i) => (i === input.length - 1 ? [t, greedy] : t)));
    let next = res[input.length - 1].next.token;
    let t0 = performance.now(), c0 = process.cpuUsage();
    for (let s = 0; s < DECODE; s++) {
        res = await seq.controlledEvaluate([[next, greedy]]);
        next = res[0].next.token;
    }
    console.log(`llamacpp_decode_0p5b_${type}_tokens_per_s: ${(DECODE / ((performance.now() - t0) / 1000)).toFixed(2)}`);
    console.log(`llamacpp_decode_0p5b_${type}_tokens_per_cpu_s: ${(DECODE / cpuSeconds(c0)).toFixed(2)}`);
    let best = 1e30, bestCpu = 1e30;
    for (let rep = 0; rep < 2; rep++) {
        await seq.clearHistory();
        t0 = performance.now(), c0 = process.cpuUsage();
        await seq.controlledEvaluate(ids.map((t, i) => (i === ids.length - 1 ? [t, greedy] : t)));
        best = Math.min(best, (performance.now() - t0) / 1000);
        bestCpu = Math.min(bestCpu, cpuSeconds(c0));
    }
    console.log(`llamacpp_prefill_0p5b_${type}_tokens_per_s: ${(PREFILL / best).toFixed(1)}`);
    console.log(`llamacpp_prefill_0p5b_${type}_tokens_per_cpu_s: ${(PREFILL / bestCpu).toFixed(1)}`);
    await ctx.dispose();
    await model.dispose();
}
