// interop-openai.mjs: the official `openai` npm client, unmodified, against
// `eef serve --model DIR` on an imported Hugging Face model (issue 18).
//
//   node scripts/interop-openai.mjs EEF NODE_MODULES WORK_DIR
//
// 1. writes WORK_DIR/qwen3-tiny: a Qwen3-layout model (config.json,
//    generation_config.json, model.safetensors in BF16, random weights from
//    a fixed seed: 2 layers, 4:2 heads, head_dim 16, q/k norms, tied, with
//    the 151,936 embedding rows of Qwen3) and the real Qwen3 tokenizer
//    fixture (tests/fixtures/hf_tok/qwen3: tokenizer.json, its
//    tokenizer_config.json with the chat template);
// 2. starts `EEF serve --model DIR --port 0` and reads the port it prints;
// 3. runs the client: models.list, models.retrieve, chat.completions.create
//    (plain, seeded twice: the same reply), and a streamed completion whose
//    chunks must join to the plain reply of the same seed;
// 4. checks the prompt the server built is the chat template's: the usage's
//    prompt_tokens equals `EEF tokenizer encode` of the conversation as
//    `EEF generate --chat` renders it (counted by the server's tokenizer).
// Prints `interop_openai_<check>: ok|FAIL` lines and exits 1 on a failure.
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [eef, modules, work] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modules), "noop.js"));
const OpenAI = require("openai");
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

// ------------------------------------------------------------ the model
const cfg = { vocab: 151936, hidden: 32, layers: 2, heads: 4, kv: 2, hd: 16, ff: 64 };
let state = 0x2545f4914f6cdd1dn; // xorshift64*, a fixed seed
function rand() {
  state ^= state >> 12n; state ^= (state << 25n) & 0xffffffffffffffffn; state ^= state >> 27n;
  const x = (state * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  return Number(x >> 11n) / 2 ** 53;
}
function bf16(values) { // round to nearest even
  const f = new Float32Array(values), u = new Uint32Array(f.buffer), out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >> 16) & 1)) >>> 16;
  return Buffer.from(out.buffer);
}
function normal(n, scale) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())), t = 2 * Math.PI * rand();
    a[i] = scale * r * Math.cos(t);
    if (i + 1 < n) a[i + 1] = scale * r * Math.sin(t);
  }
  return a;
}
const ones = (n) => new Float32Array(n).fill(1);

function writeModel(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const { vocab: V, hidden: D, layers: L, heads: H, kv: K, hd, ff: F } = cfg;
  const tensors = [["model.embed_tokens.weight", [V, D], normal(V * D, 0.5)]];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    tensors.push(
      [p + "input_layernorm.weight", [D], ones(D)],
      [p + "self_attn.q_proj.weight", [H * hd, D], normal(H * hd * D, 0.2)],
      [p + "self_attn.k_proj.weight", [K * hd, D], normal(K * hd * D, 0.2)],
      [p + "self_attn.v_proj.weight", [K * hd, D], normal(K * hd * D, 0.2)],
      [p + "self_attn.q_norm.weight", [hd], ones(hd)],
      [p + "self_attn.k_norm.weight", [hd], ones(hd)],
      [p + "self_attn.o_proj.weight", [D, H * hd], normal(D * H * hd, 0.2)],
      [p + "post_attention_layernorm.weight", [D], ones(D)],
      [p + "mlp.gate_proj.weight", [F, D], normal(F * D, 0.2)],
      [p + "mlp.up_proj.weight", [F, D], normal(F * D, 0.2)],
      [p + "mlp.down_proj.weight", [D, F], normal(D * F, 0.2)]);
  }
  tensors.push(["model.norm.weight", [D], ones(D)]);
  // safetensors: u64 header length, JSON header padded to 8, the data
  const header = { __metadata__: { format: "pt" } }, blobs = [];
  let off = 0;
  for (const [name, shape, data] of tensors) {
    const b = bf16(data);
    header[name] = { dtype: "BF16", shape, data_offsets: [off, off + b.length] };
    blobs.push(b);
    off += b.length;
  }
  let h = JSON.stringify(header);
  h += " ".repeat((8 - (h.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.concat([len, Buffer.from(h), ...blobs]));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({
    architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", vocab_size: V, hidden_size: D,
    intermediate_size: F, num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: K,
    head_dim: hd, max_position_embeddings: 4096, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
    hidden_act: "silu", tie_word_embeddings: true, torch_dtype: "bfloat16", rope_scaling: null,
    attention_bias: false, use_sliding_window: false, sliding_window: null, eos_token_id: 151645,
  }, null, 2));
  fs.writeFileSync(path.join(dir, "generation_config.json"),
                   JSON.stringify({ eos_token_id: [151645, 151643] }, null, 2));
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    fs.copyFileSync(path.join(root, "tests/fixtures/hf_tok/qwen3", f), path.join(dir, f));
}

// ------------------------------------------------------------ the checks
let failed = 0;
function check(name, ok, detail) {
  console.log(`interop_openai_${name}: ${ok ? "ok" : "FAIL"}${detail ? "  (" + detail + ")" : ""}`);
  if (!ok) failed++;
}

const dir = path.join(work, "qwen3-tiny");
writeModel(dir);
const server = spawn(eef, ["serve", "--model", dir, "--port", "0", "--threads", "2", "--name", "qwen3-tiny"],
                     { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("eef serve did not start: " + log)), 60000);
  server.stderr.on("data", (d) => {
    log += d;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
    if (m) { clearTimeout(timer); resolve(Number(m[1])); }
  });
  server.on("exit", (code) => reject(new Error(`eef serve exited (${code}): ${log}`)));
});
try {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id);
  check("models_list", ids.length === 1 && ids[0] === "qwen3-tiny", JSON.stringify(ids));
  const one = await client.models.retrieve("qwen3-tiny");
  check("models_retrieve", one.id === "qwen3-tiny" && one.object === "model");

  const messages = [{ role: "system", content: "You are a shop assistant." },
                    { role: "user", content: "Find red shoes under 40.00 dollars." }];
  const ask = { model: "qwen3-tiny", messages, max_tokens: 12, temperature: 0.7, seed: 42 };
  const a = await client.chat.completions.create(ask);
  const b = await client.chat.completions.create(ask);
  const text = a.choices[0].message.content;
  check("chat_completion", a.object === "chat.completion" && a.choices[0].message.role === "assistant" &&
        typeof text === "string" && a.usage.completion_tokens > 0,
        `${a.usage.prompt_tokens} prompt + ${a.usage.completion_tokens} completion tokens, ` +
        `finish ${a.choices[0].finish_reason}, ${JSON.stringify(text)}`);
  check("seeded_same", text === b.choices[0].message.content);

  const stream = await client.chat.completions.create({ ...ask, stream: true,
                                                        stream_options: { include_usage: true } });
  let joined = "", chunks = 0, usage = null, finish = null;
  for await (const c of stream) {
    chunks++;
    if (c.choices.length) {
      joined += c.choices[0].delta.content ?? "";
      finish = c.choices[0].finish_reason ?? finish;
    }
    if (c.usage) usage = c.usage;
  }
  check("stream", joined === text && chunks > 2 && usage && usage.completion_tokens === a.usage.completion_tokens,
        `${chunks} chunks, finish ${finish}`);

  // the prompt is the chat template's: count it with the server's tokenizer
  const rendered = execFileSync(eef, ["tokenizer", "encode", "--tok", dir, "--special", "--ids", "--text",
    "<|im_start|>system\nYou are a shop assistant.<|im_end|>\n<|im_start|>user\n" +
    "Find red shoes under 40.00 dollars.<|im_end|>\n<|im_start|>assistant\n"]).toString().trim();
  const n = rendered.split(",").length;
  check("chat_template_prompt", n === a.usage.prompt_tokens, `${n} tokens in the ChatML rendering`);

  // a bad request gets OpenAI's error shape, which the client raises
  let status = 0;
  try { await client.chat.completions.create({ model: "qwen3-tiny", messages: [] }); }
  catch (e) { status = e.status; }
  check("error_shape", status === 400, `status ${status}`);
} catch (e) {
  check("client", false, String(e && e.stack || e));
} finally {
  server.kill("SIGTERM");
}
console.log(`interop_openai: ${failed ? failed + " failed" : "all ok"} (openai ${JSON.parse(fs.readFileSync(path.join(modules, "openai/package.json"))).version}, node ${process.version})`);
process.exit(failed ? 1 : 0);
