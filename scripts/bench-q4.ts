/**
 * npm run bench:q4 [-- --layers 2] [--new-tokens 4] [--keep]
 *
 * `--weights q4` against float32 (the default), each command a `node bin/studio.js` child process
 * as users run it, both measured in this run:
 *  1. a Qwen2.5-7B-Instruct-shaped trio at real dimensions (hidden 3584, intermediate 18,944,
 *     28/4 heads, vocabulary 152,064, untied head) with only the first `--layers` decoder layers
 *     (random bf16 weights, written here, streamed: a few MB in memory), merged on the fly at
 *     α = 0.5: generate cold (merge + data file + session) and warm, and forward — wall time, peak
 *     RSS, the data file's bytes, and logits / greedy agreement of q4 against float32;
 *  2. perplexity of a small text on fixtures: the tiny-qwen2 trio at α = 0.5 over fixture prompts
 *     (teacher-forced, every position), and demo-arith at α = 1 over its 100 answers (studio eval).
 * Disk: the trio (3 × 3.0 GB at 2 layers) and both cache entries (6.2 + 4.7 GB) under a temporary
 * folder, removed at the end unless --keep.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { safetensorsHeaderBytes, type HeaderEntry } from '../src/engine/safetensors/serialize-safetensors.ts';
import { buildTinyTokenizer, tokenizerConfigJson, tokenizerJson } from './fixtures/tokenizer.ts';
import { measureStudio, type Measured } from './bench/measure-studio.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const layers = Number(arg('layers', '2'));
const newTokens = Number(arg('new-tokens', '4'));
const keep = process.argv.includes('--keep');
const GB = 1e9;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${load()} (shared with other work)`);

/** Qwen/Qwen2.5-7B-Instruct (../shared/reference/model-configs.md), first `layers` layers. */
const Q7B = { hidden: 3584, intermediate: 18944, heads: 28, kvHeads: 4, vocab: 152064 };

function config7b(): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    hidden_act: 'silu',
    hidden_size: Q7B.hidden,
    initializer_range: 0.02,
    intermediate_size: Q7B.intermediate,
    max_position_embeddings: 32768,
    max_window_layers: Math.min(layers, 28),
    model_type: 'qwen2',
    num_attention_heads: Q7B.heads,
    num_hidden_layers: layers,
    num_key_value_heads: Q7B.kvHeads,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    sliding_window: 131072,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    transformers_version: '4.43.1',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: Q7B.vocab,
  };
}

function tensors7b(): { name: string; shape: number[]; norm: boolean }[] {
  const { hidden: h, intermediate: i, vocab: v } = Q7B;
  const kv = (Q7B.kvHeads * h) / Q7B.heads;
  const t = [
    { name: 'lm_head.weight', shape: [v, h], norm: false },
    { name: 'model.embed_tokens.weight', shape: [v, h], norm: false },
    { name: 'model.norm.weight', shape: [h], norm: true },
  ];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    t.push(
      { name: `${p}.input_layernorm.weight`, shape: [h], norm: true },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, i], norm: false },
      { name: `${p}.mlp.gate_proj.weight`, shape: [i, h], norm: false },
      { name: `${p}.mlp.up_proj.weight`, shape: [i, h], norm: false },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], norm: true },
      { name: `${p}.self_attn.k_proj.bias`, shape: [kv], norm: false },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], norm: false },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, h], norm: false },
      { name: `${p}.self_attn.q_proj.bias`, shape: [h], norm: false },
      { name: `${p}.self_attn.q_proj.weight`, shape: [h, h], norm: false },
      { name: `${p}.self_attn.v_proj.bias`, shape: [kv], norm: false },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], norm: false },
    );
  }
  return t.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The trio as scripts/bench/real-size-trio.ts writes the 0.5B/1.5B ones (whose sizes table has no
 * untied 152,064-token model): SFT uniform with std 0.02 (norms around 1), RL and target one
 * step 10× smaller away from it; one xorshift stream per role; bf16; 4M elements at a time.
 */
function writeTrio(dir: string): { sft: string; rl: string; target: string } {
  const roles = ['sft', 'rl', 'target'] as const;
  const dirs = Object.fromEntries(roles.map((r) => [r, join(dir, r)])) as Record<(typeof roles)[number], string>;
  const list = tensors7b();
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const t of list) {
    entries.push({ name: t.name, dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + count(t.shape) * 2] });
    offset += count(t.shape) * 2;
  }
  const header = safetensorsHeaderBytes(entries, { format: 'pt' });
  const tok = buildTinyTokenizer();
  const fds = {} as Record<(typeof roles)[number], number>;
  for (const r of roles) {
    mkdirSync(dirs[r], { recursive: true });
    writeFileSync(join(dirs[r], 'config.json'), JSON.stringify(config7b(), null, 2));
    writeFileSync(join(dirs[r], 'generation_config.json'), JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 }));
    writeFileSync(join(dirs[r], 'tokenizer.json'), JSON.stringify(tokenizerJson(tok)));
    writeFileSync(join(dirs[r], 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(tok, 32768)));
    fds[r] = openSync(join(dirs[r], 'model.safetensors'), 'w');
    writeSync(fds[r], header);
  }
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296 - 0.5;
  };
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const bf16 = (v: number) => {
    f32[0] = v;
    return (u32[0] + 0x7fff + ((u32[0] >>> 16) & 1)) >>> 16;
  };
  const CHUNK = 1 << 22;
  const out = { sft: new Uint16Array(CHUNK), rl: new Uint16Array(CHUNK), target: new Uint16Array(CHUNK) };
  const width = 0.02 * Math.sqrt(12);
  for (const t of list) {
    const n = count(t.shape);
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      for (let i = 0; i < m; i++) {
        const s = (t.norm ? 1 : 0) + next() * width;
        out.sft[i] = bf16(s);
        out.rl[i] = bf16(s + next() * width * 0.1);
        out.target[i] = bf16(s + next() * width * 0.1);
      }
      for (const r of roles) writeSync(fds[r], new Uint8Array(out[r].buffer, 0, m * 2));
    }
  }
  for (const r of roles) closeSync(fds[r]);
  return dirs;
}

const studio = (args: string[], env: Record<string, string>) => measureStudio(args, env, 'bench-q4');

function line(what: string, r: Measured) {
  console.log(`  ${what.padEnd(58)} exit ${r.code}, ${r.seconds.toFixed(1).padStart(6)} s, peak RSS ${(r.peakRss / GB).toFixed(2)} GB  (load ${load()})`);
  if (r.code !== 0) console.log(`    stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

const lastIds = (r: Measured) => JSON.parse(r.stdout.trim().split('\n').at(-1)!).ids as number[];
const readLogits = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { shape: [number, number]; data: number[] };

/** Logits of two runs: max |Δ|, largest |logit|, argmax agreement, top-5 overlap per position. */
function compare(a: { shape: [number, number]; data: number[] }, b: { shape: [number, number]; data: number[] }) {
  const [T, V] = a.shape;
  let maxDiff = 0;
  let maxLogit = 0;
  let agree = 0;
  let top5 = 0;
  const top = (row: number[], k: number) => [...row.keys()].sort((i, j) => row[j] - row[i]).slice(0, k);
  for (let t = 0; t < T; t++) {
    const ra = a.data.slice(t * V, (t + 1) * V);
    const rb = b.data.slice(t * V, (t + 1) * V);
    ra.forEach((v, i) => ((maxDiff = Math.max(maxDiff, Math.abs(v - rb[i]))), (maxLogit = Math.max(maxLogit, Math.abs(v)))));
    const [ta, tb] = [top(ra, 5), top(rb, 5)];
    if (ta[0] === tb[0]) agree++;
    top5 += ta.filter((i) => tb.includes(i)).length / 5;
  }
  return { maxDiff, maxLogit, agree, top5: top5 / T, T };
}

/** Mean negative log-likelihood of ids[t + 1] given the logits of position t, as a perplexity. */
function perplexity(l: { shape: [number, number]; data: number[] }, ids: number[]): number {
  const V = l.shape[1];
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = l.data.slice(t * V, (t + 1) * V);
    const m = Math.max(...row);
    nll -= row[ids[t + 1]] - m - Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
  }
  return Math.exp(nll / (ids.length - 1));
}

const work = mkdtempSync(join(tmpdir(), 'bench-q4-'));
try {
  // 1. The 7B-shaped trio.
  const params = tensors7b().reduce((a, t) => a + count(t.shape), 0);
  const t0 = performance.now();
  const dirs = writeTrio(join(work, 'trio'));
  console.log(`\nQwen2.5-7B-shaped, ${layers} layer(s): ${(params / 1e9).toFixed(3)} B parameters (${(params * 4 / GB).toFixed(2)} GB in float32); trio written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const cache = join(work, 'cache');
  const env = { STUDIO_CACHE_DIR: cache };
  const trio = ['--sft', dirs.sft, '--rl', dirs.rl, '--target', dirs.target, '--alpha', '0.5', '--device', 'cpu'];
  const PROMPT = [9707, 11, 1879, 0, 3555, 374, 220, 17];
  const results: Record<string, { cold: Measured; warm: Measured; forward: Measured; logits: string }> = {};
  for (const w of ['float', 'q4'] as const) {
    const gen = ['generate', ...trio, '--ids', PROMPT.join(','), '--max-new-tokens', String(newTokens), '--weights', w];
    const cold = await studio(gen, env);
    line(`generate ${newTokens} tokens --weights ${w}, cold (merge + data file)`, cold);
    const warm = await studio(gen, env);
    line(`generate ${newTokens} tokens --weights ${w}, warm (cached data file)`, warm);
    const logits = join(work, `logits-${w}.json`);
    const forward = await studio(['forward', ...trio, '--ids', PROMPT.join(','), '--out', logits, '--weights', w], env);
    line(`forward ${PROMPT.length} ids --weights ${w}, warm`, forward);
    results[w] = { cold, warm, forward, logits };
  }
  const entries = readdirSync(join(cache, 'models')).map((k) => ({
    q4: readFileSync(join(cache, 'models', k, 'manifest.json'), 'utf8').includes('MatMulNBits'),
    bytes: statSync(join(cache, 'models', k, 'model.onnx.data')).size,
  }));
  const f32Bytes = entries.find((e) => !e.q4)!.bytes;
  const q4Bytes = entries.find((e) => e.q4)!.bytes;
  // The projections alone (what q4 changes): the rest is float32 in both files.
  const rest = (2 * Q7B.vocab * Q7B.hidden + Q7B.hidden + layers * (2 * Q7B.hidden + Q7B.hidden + 1024)) * 4;
  const [f, q] = [results.float, results.q4];
  console.log(`\n  data file: float32 ${(f32Bytes / GB).toFixed(3)} GB, q4 ${(q4Bytes / GB).toFixed(3)} GB (${(f32Bytes / q4Bytes).toFixed(2)}×); projections alone ${((f32Bytes - rest) / GB).toFixed(3)} → ${((q4Bytes - rest) / GB).toFixed(3)} GB (${((f32Bytes - rest) / (q4Bytes - rest)).toFixed(2)}×; embedding and untied head stay float32: ${(rest / GB).toFixed(2)} GB)`);
  console.log(`  peak RSS, warm generate: float32 ${(f.warm.peakRss / GB).toFixed(2)} GB, q4 ${(q.warm.peakRss / GB).toFixed(2)} GB (${(f.warm.peakRss / q.warm.peakRss).toFixed(2)}×); wall ${f.warm.seconds.toFixed(1)} s vs ${q.warm.seconds.toFixed(1)} s (${(f.warm.seconds / q.warm.seconds).toFixed(2)}×)`);
  console.log(`  cold (merge + write): float32 ${f.cold.seconds.toFixed(1)} s, q4 ${q.cold.seconds.toFixed(1)} s (${(q.cold.seconds / f.cold.seconds).toFixed(2)}× — quantising on the CPU while writing)`);
  if ([f.warm, q.warm, f.forward, q.forward].every((r) => r.code === 0)) {
    const c = compare(readLogits(f.logits), readLogits(q.logits));
    const same = JSON.stringify(lastIds(f.warm)) === JSON.stringify(lastIds(q.warm));
    console.log(`  logits over ${c.T} positions: max |Δ| ${c.maxDiff.toFixed(4)} (largest |logit| ${c.maxLogit.toFixed(3)}, ${((c.maxDiff / c.maxLogit) * 100).toFixed(1)}%); argmax agreement ${c.agree}/${c.T}; top-5 overlap ${(c.top5 * 100).toFixed(0)}%`);
    console.log(`  greedy ${newTokens} tokens: float32 ${JSON.stringify(lastIds(f.warm))}, q4 ${JSON.stringify(lastIds(q.warm))} (${same ? 'same' : 'different'})`);
  }
  // What one projection loses, on weights drawn as the trio's (uniform, std 0.02): the relative
  // size of x·(W − W')ᵀ against x·Wᵀ. RTN noise is uniform in ±step/2 with step ≈ range/15, so
  // about 1/15 of a uniform weight's spread; random layers pass it on without any structure to
  // absorb it (gate·up multiplies two such errors), which is why the logits above move more.
  {
    const { quantizeQ4, dequantizeQ4 } = await import('../src/engine/quant/q4-quantize.ts');
    const [n, k, m] = [256, Q7B.hidden, 4];
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5);
    const w = Float32Array.from({ length: n * k }, () => rand() * 0.02 * Math.sqrt(12));
    const x = Float64Array.from({ length: m * k }, () => rand());
    const d = dequantizeQ4(quantizeQ4(w, n, k));
    let num = 0;
    let den = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let y = 0;
        let e = 0;
        for (let c = 0; c < k; c++) {
          y += x[i * k + c] * w[j * k + c];
          e += x[i * k + c] * (w[j * k + c] - d[j * k + c]);
        }
        num += e * e;
        den += y * y;
      }
    }
    console.log(`  one [${n}, ${k}] projection with the trio's weight distribution: ‖x·(W − W')ᵀ‖ / ‖x·Wᵀ‖ = ${(Math.sqrt(num / den) * 100).toFixed(2)}% (expected ≈ 1/15 = 6.7%: noise std step/√12 over a uniform weight's range/√12)`);
  }
  rmSync(join(work, 'trio'), { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });

  // 2. Perplexity on fixtures.
  const F = join(root, 'fixtures/models');
  const fxEnv = { STUDIO_CACHE_DIR: join(work, 'fixture-cache') };
  const tiny = ['--sft', join(F, 'tiny-qwen2-sft'), '--rl', join(F, 'tiny-qwen2-rl'), '--target', join(F, 'tiny-qwen2-target'), '--alpha', '0.5', '--device', 'cpu'];
  const { StudioTokenizer } = await import('../src/engine/model/tokenizer.ts');
  const { openCheckpoint } = await import('../src/engine/checkpoint/open-checkpoint.ts');
  const { localFolderSource } = await import('../src/engine/sources/local-folder-source.ts');
  const tok = await StudioTokenizer.load(await openCheckpoint(await localFolderSource(join(F, 'tiny-qwen2-target'))));
  const text = 'What is 12 plus 30? The answer is 42. The sky is blue, and the grass is green.';
  const ids = tok.encode(text);
  const ppl: Record<string, number> = {};
  for (const w of ['float', 'q4']) {
    const out = join(work, `tiny-${w}.json`);
    const r = await studio(['forward', ...tiny, '--ids', ids.join(','), '--out', out, '--weights', w], fxEnv);
    if (r.code !== 0) line(`tiny forward --weights ${w}`, r);
    ppl[w] = perplexity(readLogits(out), ids);
  }
  console.log(`\ntiny-qwen2 θ(0.5), "${text}" (${ids.length} tokens): perplexity float32 ${ppl.float.toFixed(3)}, q4 ${ppl.q4.toFixed(3)} (×${(ppl.q4 / ppl.float).toFixed(4)}) — random weights: both near the vocabulary size, 288`);
  const demo = ['--sft', join(F, 'demo-arith-sft'), '--rl', join(F, 'demo-arith-rl'), '--target', join(F, 'demo-arith-target'), '--alpha', '1', '--device', 'cpu'];
  const demoRes: Record<string, { acc: number; ppl: number }> = {};
  for (const w of ['float', 'q4']) {
    const out = join(work, `eval-${w}.json`);
    const samples = join(work, `samples-${w}.jsonl`);
    await studio(['eval', ...demo, '--task', 'demo_arith', '--out', out, '--samples', samples, '--weights', w], fxEnv);
    const rows = readFileSync(samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; continuations: { text: string; loglikelihood: number }[] });
    const nll = -rows.reduce((a, r) => a + r.continuations.find((c) => c.text === String((Number(r.prompt[0]) + Number(r.prompt[2])) % 10))!.loglikelihood, 0) / rows.length;
    demoRes[w] = { acc: JSON.parse(readFileSync(out, 'utf8')).results.demo_arith['acc,none'], ppl: Math.exp(nll) };
  }
  console.log(`demo-arith θ(1), 100 answers: accuracy float32 ${demoRes.float.acc}, q4 ${demoRes.q4.acc}; answer perplexity float32 ${demoRes.float.ppl.toFixed(3)}, q4 ${demoRes.q4.ppl.toFixed(3)} (hand-built lookup weights: a few large entries per block of 32 set its scale)`);
} finally {
  if (keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(`load average at the end: ${load()}`);
