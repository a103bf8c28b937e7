/**
 * Writes deterministic tiny Qwen2 checkpoints to fixtures/ (`npm run fixtures`):
 * fixtures/models/<name>/ are loadable models of one seeded family, fixtures/bad/<name>/ are
 * realistic-looking checkpoints each broken in exactly one way the loader must name.
 */
import { mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  safetensorsHeaderBytes,
  serializeSafetensors,
  type HeaderEntry,
  type TensorToSerialize,
} from '../src/engine/safetensors/serialize-safetensors.ts';
import { configV4, configV5, generationConfig, TINY_QWEN2, type FixtureDtype, type TinyShape, type TokenIds } from './fixtures/config.ts';
import { Rng } from './fixtures/prng.ts';
import { buildDemoFamily, DEMO_SHAPE } from './fixtures/demo-arithmetic.ts';
import { buildTinyTokenizer, tokenizerConfigJson, tokenizerJson } from './fixtures/tokenizer.ts';
import { baseWeights, perturb, qwen2TensorSpecs, toTensors, type Weights } from './fixtures/weights.ts';

const SEED = { base: 1, sft: 2, rl: 3, target: 4, f8: 5 } as const;
/**
 * Fine-tune step noise: 10% of the 0.02 init scale, ~16 bf16 ulps for such weights, so donor deltas
 * survive bf16 storage. (Norm weights near 1 have a bf16 ulp of 2^-7, so their deltas mostly round
 * away — as in real bf16 checkpoints.)
 */
const STEP_STD = 0.002;
const ST_METADATA = { format: 'pt' };

export interface FixtureSummary {
  /** Path relative to outDir, e.g. "models/tiny-qwen2-sft". */
  path: string;
  description: string;
  bytes: number;
}

interface Family {
  sft: Weights;
  rl: Weights;
  target: Weights;
}

function family(shape: TinyShape): Family {
  const specs = qwen2TensorSpecs(shape);
  const base = baseWeights(specs, SEED.base);
  const sft = perturb(base, specs, SEED.sft, STEP_STD);
  return {
    sft,
    rl: perturb(sft, specs, SEED.rl, STEP_STD),
    target: perturb(base, specs, SEED.target, STEP_STD),
  };
}

const json = (o: unknown) => JSON.stringify(o, null, 2) + '\n';

/** Collects files for one fixture folder and writes them in a fixed order. */
class FolderWriter {
  bytes = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  write(name: string, data: Uint8Array | string): void {
    writeFileSync(path.join(this.dir, name), data);
    this.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
}

const tokenizer = buildTinyTokenizer();
const IDS: TokenIds = {
  bos: tokenizer.specialIds['<|endoftext|>'],
  eos: tokenizer.specialIds['<|im_end|>'],
  pad: tokenizer.specialIds['<|endoftext|>'],
};
if (tokenizer.size > TINY_QWEN2.vocabSize) throw new Error('tiny tokenizer does not fit vocab_size');

function writeSideFiles(w: FolderWriter, shape: TinyShape, dtype: FixtureDtype, form: 'v4' | 'v5', withConfig = true, withTokenizer = true): void {
  if (withConfig) w.write('config.json', json(form === 'v4' ? configV4(shape, dtype, IDS) : configV5(shape, dtype, IDS)));
  w.write('generation_config.json', json(generationConfig(IDS)));
  if (!withTokenizer) return;
  w.write('tokenizer.json', json(tokenizerJson(tokenizer)));
  w.write('tokenizer_config.json', json(tokenizerConfigJson(tokenizer, shape.maxPositions)));
}

/**
 * Contiguous runs of the name-sorted tensors, each closed once it would pass total/n bytes
 * (the way HF's max_shard_size splitting works), never leaving a shard empty.
 */
function splitShards(tensors: TensorToSerialize[], n: number): TensorToSerialize[][] {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const cap = Math.ceil(sorted.reduce((s, t) => s + t.data.length, 0) / n);
  const shards: TensorToSerialize[][] = [[]];
  let used = 0;
  sorted.forEach((t, i) => {
    const current = shards[shards.length - 1];
    const mustLeaveOneEach = sorted.length - i <= n - shards.length;
    if (current.length > 0 && shards.length < n && (used + t.data.length > cap || mustLeaveOneEach)) {
      shards.push([t]);
      used = t.data.length;
    } else {
      current.push(t);
      used += t.data.length;
    }
  });
  if (shards.length !== n) throw new Error(`could only make ${shards.length} of ${n} shards`);
  return shards;
}

const shardFile = (i: number, n: number) =>
  `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/** Writes shards plus model.safetensors.index.json; `skip` leaves one shard out (missing-shard). */
function writeSharded(w: FolderWriter, tensors: TensorToSerialize[], n: number, skip?: number): void {
  const weightMap: Record<string, string> = {};
  let total = 0;
  splitShards(tensors, n).forEach((group, i) => {
    const file = shardFile(i, n);
    for (const t of group) {
      weightMap[t.name] = file;
      total += t.data.length;
    }
    if (i !== skip) w.write(file, serializeSafetensors(group, ST_METADATA));
  });
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  w.write('model.safetensors.index.json', json({ metadata: { total_size: total }, weight_map: sortedMap }));
}

interface ModelFixture {
  name: string;
  shape: TinyShape;
  dtype: FixtureDtype;
  form: 'v4' | 'v5';
  pick: (f: Family) => Weights;
  shards?: number;
  /** false: no tokenizer.json / tokenizer_config.json (a target whose prompts must be token ids). */
  tokenizer?: boolean;
  note: string;
}

const TIED = TINY_QWEN2;
const UNTIED: TinyShape = { ...TINY_QWEN2, tied: false };
const VOCAB320: TinyShape = { ...TINY_QWEN2, vocabSize: 320 };

const MODELS: ModelFixture[] = [
  { name: 'tiny-qwen2-sft', shape: TIED, dtype: 'BF16', form: 'v4', pick: (f) => f.sft, note: 'donor SFT' },
  { name: 'tiny-qwen2-rl', shape: TIED, dtype: 'BF16', form: 'v4', pick: (f) => f.rl, note: 'donor RL (= sft + step)' },
  { name: 'tiny-qwen2-target', shape: TIED, dtype: 'BF16', form: 'v4', pick: (f) => f.target, note: 'target' },
  { name: 'tiny-qwen2-f16', shape: TIED, dtype: 'F16', form: 'v4', pick: (f) => f.target, note: 'target' },
  { name: 'tiny-qwen2-f32', shape: TIED, dtype: 'F32', form: 'v4', pick: (f) => f.target, note: 'target' },
  { name: 'tiny-qwen2-sharded', shape: TIED, dtype: 'BF16', form: 'v4', pick: (f) => f.target, shards: 3, note: 'target, 3 shards' },
  { name: 'tiny-qwen2-untied-sft', shape: UNTIED, dtype: 'BF16', form: 'v4', pick: (f) => f.sft, note: 'donor SFT, lm_head' },
  { name: 'tiny-qwen2-untied-rl', shape: UNTIED, dtype: 'BF16', form: 'v4', pick: (f) => f.rl, note: 'donor RL, lm_head' },
  { name: 'tiny-qwen2-untied-target', shape: UNTIED, dtype: 'BF16', form: 'v4', pick: (f) => f.target, note: 'target, lm_head' },
  { name: 'tiny-qwen2-v5', shape: TIED, dtype: 'BF16', form: 'v5', pick: (f) => f.target, note: 'target, transformers v5 config' },
  { name: 'tiny-qwen2-vocab320-target', shape: VOCAB320, dtype: 'BF16', form: 'v4', pick: (f) => f.target, note: 'target, vocab resized to 320' },
  { name: 'tiny-qwen2-notok-target', shape: TIED, dtype: 'BF16', form: 'v4', pick: (f) => f.target, tokenizer: false, note: 'target without tokenizer files (token ids only)' },
];

function writeModels(root: string): FixtureSummary[] {
  const families = new Map<TinyShape, Family>();
  return MODELS.map((m) => {
    if (!families.has(m.shape)) families.set(m.shape, family(m.shape));
    const tensors = toTensors(m.pick(families.get(m.shape)!), qwen2TensorSpecs(m.shape), m.dtype);
    const w = new FolderWriter(path.join(root, 'models', m.name));
    writeSideFiles(w, m.shape, m.dtype, m.form, true, m.tokenizer ?? true);
    if (m.shards) writeSharded(w, tensors, m.shards);
    else w.write('model.safetensors', serializeSafetensors(tensors, ST_METADATA));
    const tie = m.shape.tied ? 'tied' : 'untied';
    return { path: `models/${m.name}`, description: `${m.dtype} ${tie} ${m.form}: ${m.note}`, bytes: w.bytes };
  });
}

// ---- bad fixtures: a valid layout, then exactly one thing broken ----

/** Header entries and body of a valid file, sorted like serializeSafetensors does. */
function layout(tensors: TensorToSerialize[]): { entries: HeaderEntry[]; body: Uint8Array } {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  const body = new Uint8Array(sorted.reduce((s, t) => s + t.data.length, 0));
  let at = 0;
  const entries = sorted.map((t): HeaderEntry => {
    body.set(t.data, at);
    const e: HeaderEntry = { name: t.name, dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.length] };
    at += t.data.length;
    return e;
  });
  return { entries, body };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const assemble = (entries: HeaderEntry[], body: Uint8Array) => concat(safetensorsHeaderBytes(entries, ST_METADATA), body);

function entry(entries: HeaderEntry[], name: string): HeaderEntry {
  const e = entries.find((x) => x.name === name);
  if (!e) throw new Error(`no tensor ${name}`);
  return e;
}

interface BadFixture {
  name: string;
  note: string;
  withConfig?: boolean;
  build: (w: FolderWriter, tensors: TensorToSerialize[]) => void;
}

const BAD: BadFixture[] = [
  {
    name: 'header-too-long',
    note: 'u64 header length = file size (runs 8 bytes past the end)',
    build: (w, t) => {
      const file = serializeSafetensors(t, ST_METADATA);
      new DataView(file.buffer).setBigUint64(0, BigInt(file.length), true);
      w.write('model.safetensors', file);
    },
  },
  {
    name: 'bad-json',
    note: "header JSON's closing brace replaced by a space",
    build: (w, t) => {
      const file = serializeSafetensors(t, ST_METADATA);
      const headerEnd = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
      file[file.lastIndexOf(0x7d /* } */, headerEnd)] = 0x20;
      w.write('model.safetensors', file);
    },
  },
  {
    name: 'f8-dtype',
    note: 'model.layers.0.mlp.up_proj.weight stored as F8_E4M3 (sizes consistent)',
    build: (w, t) => {
      const rng = new Rng(SEED.f8);
      const tensors = t.map((x) => {
        if (x.name !== 'model.layers.0.mlp.up_proj.weight') return x;
        // Arbitrary bytes: the loader must refuse by dtype name, before looking at values.
        const data = new Uint8Array(x.data.length / 2).map(() => rng.byte());
        return { ...x, dtype: 'F8_E4M3', data };
      });
      w.write('model.safetensors', serializeSafetensors(tensors, ST_METADATA));
    },
  },
  {
    name: 'shape-size-mismatch',
    note: 'k_proj.bias claims shape [9] over a 16-byte (8 x BF16) span; spans still tile the file',
    build: (w, t) => {
      const { entries, body } = layout(t);
      entry(entries, 'model.layers.0.self_attn.k_proj.bias').shape = [9];
      w.write('model.safetensors', assemble(entries, body));
    },
  },
  {
    name: 'overlapping-spans',
    note: 'last tensor (model.norm.weight) moved 16 bytes back into the one before; file ends at its end',
    build: (w, t) => {
      const { entries, body } = layout(t);
      const last = entries[entries.length - 1];
      last.data_offsets = [last.data_offsets[0] - 16, last.data_offsets[1] - 16];
      w.write('model.safetensors', assemble(entries, body.subarray(0, body.length - 16)));
    },
  },
  {
    name: 'out-of-range-span',
    note: 'valid header, body truncated by 16 bytes so the last span runs past the end',
    build: (w, t) => {
      const { entries, body } = layout(t);
      w.write('model.safetensors', assemble(entries, body.subarray(0, body.length - 16)));
    },
  },
  {
    name: 'missing-config',
    note: 'valid model.safetensors, no config.json',
    withConfig: false,
    build: (w, t) => w.write('model.safetensors', serializeSafetensors(t, ST_METADATA)),
  },
  {
    name: 'missing-shard',
    note: `index names ${shardFile(1, 3)}, which is absent`,
    build: (w, t) => writeSharded(w, t, 3, 1),
  },
];

function writeBad(root: string): FixtureSummary[] {
  const tensors = toTensors(family(TIED).target, qwen2TensorSpecs(TIED), 'BF16');
  return BAD.map((b) => {
    const w = new FolderWriter(path.join(root, 'bad', b.name));
    writeSideFiles(w, TIED, 'BF16', 'v4', b.withConfig ?? true);
    b.build(w, tensors);
    return { path: `bad/${b.name}`, description: b.note, bytes: w.bytes };
  });
}

/**
 * Regenerates outDir/models and outDir/bad from scratch; leaves anything else in outDir alone.
 * With `demo`, also the demo trio (demo-arith-*, ~1 s more), which `npm run fixtures` publishes.
 */
export function makeFixtures(outDir: string, options: { demo?: boolean } = {}): FixtureSummary[] {
  for (const sub of ['models', 'bad']) rmSync(path.join(outDir, sub), { recursive: true, force: true });
  return [...writeModels(outDir), ...writeBad(outDir), ...(options.demo ? writeDemo(outDir) : [])];
}

export const DEMO_MODELS = ['demo-arith-sft', 'demo-arith-rl', 'demo-arith-target'] as const;

/** The demo trio (scripts/fixtures/demo-arithmetic.ts) with demo.json, its task and accuracy table. */
function writeDemo(root: string): FixtureSummary[] {
  const { sft, rl, target, report } = buildDemoFamily(tokenizer);
  const specs = qwen2TensorSpecs(DEMO_SHAPE);
  const notes = { sft: 'donor SFT (base + noise)', rl: 'donor RL (SFT + ridge-fitted head for a+b mod 10)', target: 'target (base + other noise)' };
  return (['sft', 'rl', 'target'] as const).map((role) => {
    const name = `demo-arith-${role}`;
    const w = new FolderWriter(path.join(root, 'models', name));
    writeSideFiles(w, DEMO_SHAPE, 'BF16', 'v4');
    w.write('model.safetensors', serializeSafetensors(toTensors({ sft, rl, target }[role], specs, 'BF16'), ST_METADATA));
    w.write('demo.json', json(report));
    return { path: `models/${name}`, description: `BF16 untied v4: demo ${notes[role]}`, bytes: w.bytes };
  });
}

function isCliEntry(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}

if (isCliEntry()) {
  const started = performance.now();
  const outDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
  const summaries = makeFixtures(outDir, { demo: true });
  const width = Math.max(...summaries.map((s) => s.path.length));
  for (const s of summaries) {
    console.log(`${s.path.padEnd(width)}  ${(s.bytes / 1024).toFixed(1).padStart(6)} KiB  ${s.description}`);
  }
  console.log(`${summaries.length} fixtures in ${path.relative(process.cwd(), outDir) || '.'} (${Math.round(performance.now() - started)} ms)`);
}
