/**
 * Random-weight checkpoints at real sizes (scripts/make-real-size-checkpoint.ts is the command).
 *
 * Writes a donor pair and a target with the real Qwen2.5-0.5B-Instruct or Qwen2.5-1.5B-Instruct
 * config (../shared/reference/model-configs.md: tied embeddings, q/k/v biases, vocabulary
 * 151,936) and random bf16 weights, as `<dir>/{sft,rl,target}/` (config.json,
 * generation_config.json, model.safetensors) and the fixtures' tiny Qwen-format tokenizer (a few
 * KB: its 288 ids lie inside the real vocabulary, so `--prompt`, `eval` and `sweep` run too; the
 * real one is 7 MB of vocabulary that says nothing about memory or speed).
 *
 * Deterministic (one xorshift stream per role and tensor, seeded from --seed), and streamed:
 * each tensor is generated and written in chunks of CHUNK_ELEMENTS, so memory holds a few
 * chunks, never a tensor (the 1.5B embedding alone is 467 MB in bf16) or a checkpoint.
 * The values: SFT ~ uniform with the config's initializer_range as standard deviation (norm
 * weights around 1), RL = SFT + a step 10× smaller, target = SFT + another such step — a pair
 * from one start and a related target, as the studio expects.
 * `real-size.json` is written into each folder last; a folder whose marker matches is reused.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { safetensorsHeaderBytes, type HeaderEntry } from '../../src/engine/safetensors/serialize-safetensors.ts';
import { buildTinyTokenizer, tokenizerConfigJson, tokenizerJson } from '../fixtures/tokenizer.ts';

export const REAL_SIZES = {
  /** Qwen/Qwen2.5-0.5B-Instruct */
  '0.5b': { hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, max_window_layers: 21 },
  /** Qwen/Qwen2.5-1.5B-Instruct */
  '1.5b': { hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, max_window_layers: 21 },
} as const;
export type RealSize = keyof typeof REAL_SIZES;
export const ROLES = ['sft', 'rl', 'target'] as const;
export type Role = (typeof ROLES)[number];

const VOCAB = 151_936;
/** Elements generated per step: 8 MB of bf16 per role, three roles at once. */
const CHUNK_ELEMENTS = 1 << 22;
/** Bump when the values or files change, so old folders are rewritten. */
const FORMAT = 2;

/**
 * config.json as the real model's (transformers v4 form, keys sorted as transformers writes them).
 * `layers` keeps the first N decoder layers (real hidden, intermediate and vocabulary sizes): the
 * page benchmark on a software GPU may need a shallower model to finish in minutes.
 */
export function realConfig(size: RealSize, layers?: number): Record<string, unknown> {
  const c = {
    architectures: ['Qwen2ForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    hidden_act: 'silu',
    initializer_range: 0.02,
    max_position_embeddings: 32768,
    model_type: 'qwen2',
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    sliding_window: 32768,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    transformers_version: '4.43.1',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: VOCAB,
    ...REAL_SIZES[size],
    ...(layers === undefined ? {} : { num_hidden_layers: layers, max_window_layers: Math.min(layers, REAL_SIZES[size].max_window_layers) }),
  };
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1)));
}

type Init = 'weight' | 'bias' | 'norm';
interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Every tensor of a tied Qwen2 checkpoint (of its first `layers` layers), sorted by name as safetensors files list them. */
export function realTensors(size: RealSize, layers?: number): TensorSpec[] {
  const s = { ...REAL_SIZES[size], ...(layers === undefined ? {} : { num_hidden_layers: layers }) };
  const h = s.hidden_size;
  const kv = (s.num_key_value_heads * h) / s.num_attention_heads;
  const specs: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', shape: [VOCAB, h], init: 'weight' },
    { name: 'model.norm.weight', shape: [h], init: 'norm' },
  ];
  for (let l = 0; l < s.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [h], init: 'norm' },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, s.intermediate_size], init: 'weight' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [s.intermediate_size, h], init: 'weight' },
      { name: `${p}.mlp.up_proj.weight`, shape: [s.intermediate_size, h], init: 'weight' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], init: 'norm' },
      { name: `${p}.self_attn.k_proj.bias`, shape: [kv], init: 'bias' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], init: 'weight' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, h], init: 'weight' },
      { name: `${p}.self_attn.q_proj.bias`, shape: [h], init: 'bias' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [h, h], init: 'weight' },
      { name: `${p}.self_attn.v_proj.bias`, shape: [kv], init: 'bias' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], init: 'weight' },
    );
  }
  return specs.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Parameters and bf16 bytes of one checkpoint; float32 weight bytes are twice the latter. */
export function realSizeStats(size: RealSize, layers?: number): { parameters: number; bf16Bytes: number; f32Bytes: number } {
  const parameters = realTensors(size, layers).reduce((a, t) => a + count(t.shape), 0);
  return { parameters, bf16Bytes: parameters * 2, f32Bytes: parameters * 4 };
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0 || 1;
}

/** A xorshift32 stream of uniforms in [-0.5, 0.5), one per (seed, role, tensor). */
class Stream {
  private x: number;
  constructor(seed: number, key: string) {
    this.x = fnv(`${seed}/${key}`);
  }
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return (x >>> 0) / 4294967296 - 0.5;
  }
}

/** Uniform on [-0.5, 0.5) has standard deviation 1/√12: this scales it to `std`. */
const widthFor = (std: number) => std * Math.sqrt(12);

export interface TrioDirs {
  sft: string;
  rl: string;
  target: string;
}

/**
 * Writes (or reuses) `<root>/{sft,rl,target}` for one size and seed (and, when given, only the
 * first `layers` decoder layers); returns the folders.
 */
export function ensureRealSizeTrio(root: string, size: RealSize, seed = 1, log: (line: string) => void = () => {}, layers?: number): TrioDirs {
  if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1 && layers <= REAL_SIZES[size].num_hidden_layers)) {
    throw new Error(`layers must be a whole number from 1 to ${REAL_SIZES[size].num_hidden_layers} for ${size}, not ${layers}`);
  }
  const dirs = Object.fromEntries(ROLES.map((r) => [r, join(resolve(root), r)])) as unknown as TrioDirs;
  // The full depth keeps the old marker, so folders written before this option are reused.
  const marker = JSON.stringify(layers === undefined || layers === REAL_SIZES[size].num_hidden_layers ? { format: FORMAT, size, seed } : { format: FORMAT, size, seed, layers });
  const markerOf = (d: string) => join(d, 'real-size.json');
  if (ROLES.every((r) => existsSync(markerOf(dirs[r])) && readFileSync(markerOf(dirs[r]), 'utf8').trim() === marker)) return dirs;

  const tensors = realTensors(size, layers);
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = count(t.shape) * 2;
    entries.push({ name: t.name, dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] });
    offset += bytes;
  }
  const header = safetensorsHeaderBytes(entries, { format: 'pt' });
  const config = realConfig(size, layers);
  const tokenizer = buildTinyTokenizer();
  const fds = {} as Record<Role, number>;
  for (const r of ROLES) {
    rmSync(dirs[r], { recursive: true, force: true });
    mkdirSync(dirs[r], { recursive: true });
    writeFileSync(join(dirs[r], 'config.json'), JSON.stringify(config, null, 2) + '\n');
    writeFileSync(join(dirs[r], 'generation_config.json'), JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643], pad_token_id: 151643 }, null, 2) + '\n');
    writeFileSync(join(dirs[r], 'tokenizer.json'), JSON.stringify(tokenizerJson(tokenizer)));
    writeFileSync(join(dirs[r], 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(tokenizer, Number(config.max_position_embeddings))));
    fds[r] = openSync(join(dirs[r], 'model.safetensors'), 'w');
    writeSync(fds[r], header);
  }
  const std = Number(config.initializer_range);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  /** float32 → bf16 bits, round to nearest even (values here are finite). */
  const bf16 = (v: number) => {
    f32[0] = v;
    const u = u32[0];
    return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  };
  const out = { sft: new Uint16Array(CHUNK_ELEMENTS), rl: new Uint16Array(CHUNK_ELEMENTS), target: new Uint16Array(CHUNK_ELEMENTS) };
  const started = performance.now();
  let done = 0;
  for (const t of tensors) {
    const n = count(t.shape);
    const base = new Stream(seed, `sft/${t.name}`);
    const stepRl = new Stream(seed, `rl/${t.name}`);
    const stepTarget = new Stream(seed, `target/${t.name}`);
    const width = widthFor(std);
    const step = width / 10;
    const center = t.init === 'norm' ? 1 : 0;
    for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
      const m = Math.min(CHUNK_ELEMENTS, n - start);
      for (let i = 0; i < m; i++) {
        const s = center + base.next() * width;
        out.sft[i] = bf16(s);
        out.rl[i] = bf16(s + stepRl.next() * step);
        out.target[i] = bf16(s + stepTarget.next() * step);
      }
      for (const r of ROLES) writeSync(fds[r], new Uint8Array(out[r].buffer, 0, m * 2));
    }
    done += n;
  }
  for (const r of ROLES) {
    closeSync(fds[r]);
    writeFileSync(markerOf(dirs[r]), marker + '\n');
  }
  log(`wrote ${size} trio (${(done / 1e9).toFixed(3)} B parameters × 3, bf16) in ${((performance.now() - started) / 1000).toFixed(1)} s under ${resolve(root)}`);
  return dirs;
}

