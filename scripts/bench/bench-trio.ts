/**
 * A synthetic Qwen2-shaped trio for benchmarks (never committed; fixtures/bench/ is ignored):
 * real tensor names and shapes at a configurable size, bf16, RL = SFT + small steps, written
 * tensor by tensor so generating it never holds a checkpoint in memory.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { safetensorsHeaderBytes, type HeaderEntry } from '../../src/engine/safetensors/serialize-safetensors.ts';
import { configV4 } from '../fixtures/config.ts';
import type { TinyShape } from '../fixtures/config.ts';
import { qwen2TensorSpecs } from '../fixtures/weights.ts';

export const BENCH_SHAPES: Record<string, TinyShape> = {
  /** ~6M parameters: small enough to run prefill/decode through SwiftShader in seconds. */
  model: { hiddenSize: 256, intermediateSize: 768, numLayers: 4, numHeads: 8, numKvHeads: 2, vocabSize: 8192, maxPositions: 1024, tied: true },
  /** ~21M parameters, 42 MB per checkpoint in bf16. */
  small: { hiddenSize: 512, intermediateSize: 1408, numLayers: 4, numHeads: 8, numKvHeads: 2, vocabSize: 16384, maxPositions: 2048, tied: true },
  /** ~110M parameters, 220 MB per checkpoint: a 1.5B model's layer widths at a few layers. */
  medium: { hiddenSize: 1536, intermediateSize: 8960, numLayers: 2, numHeads: 12, numKvHeads: 2, vocabSize: 32768, maxPositions: 4096, tied: true },
};

function bf16Noise(n: number, seed: number, scale: number, base?: Uint16Array): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = ((x >>> 0) / 2 ** 32 - 0.5) * scale;
    if (base) {
      u[0] = base[i] << 16;
      f[0] += r;
    } else f[0] = r;
    out[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Writes (if missing) fixtures/bench/<size>-{sft,rl,target} with a manifest.json each; returns their paths. */
export function ensureBenchTrio(root: string, size: keyof typeof BENCH_SHAPES): Record<'sft' | 'rl' | 'target', string> {
  const shape = BENCH_SHAPES[size];
  const specs = qwen2TensorSpecs(shape);
  const dirs = { sft: join(root, `${size}-sft`), rl: join(root, `${size}-rl`), target: join(root, `${size}-target`) };
  if (Object.values(dirs).every((d) => existsSync(join(d, 'manifest.json')))) return dirs;
  const ids = { bos: 0, eos: 1, pad: 0 };
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (const s of specs) {
    const bytes = s.shape.reduce((a, b) => a * b, 1) * 2;
    entries.push({ name: s.name, dtype: 'BF16', shape: s.shape, data_offsets: [offset, offset + bytes] });
    offset += bytes;
  }
  const header = safetensorsHeaderBytes(entries, { format: 'pt' });
  const fds = Object.fromEntries(
    Object.entries(dirs).map(([role, d]) => {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'config.json'), JSON.stringify(configV4(shape, 'BF16', ids), null, 2) + '\n');
      const fd = openSync(join(d, 'model.safetensors'), 'w');
      writeSync(fd, header);
      return [role, fd];
    }),
  ) as Record<'sft' | 'rl' | 'target', number>;
  specs.forEach((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const sft = bf16Noise(n, 1000 + i, 0.04);
    const rl = bf16Noise(n, 2000 + i, 0.004, sft);
    const target = bf16Noise(n, 3000 + i, 0.004, sft);
    for (const [role, arr] of [['sft', sft], ['rl', rl], ['target', target]] as const) writeSync(fds[role], new Uint8Array(arr.buffer));
  });
  for (const [role, d] of Object.entries(dirs)) {
    closeSync(fds[role as 'sft']);
    const files = readdirSync(d)
      .filter((f) => f !== 'manifest.json')
      .sort()
      .map((path) => ({ path, size: statSync(join(d, path)).size }));
    writeFileSync(join(d, 'manifest.json'), JSON.stringify({ files }) + '\n');
  }
  return dirs;
}
