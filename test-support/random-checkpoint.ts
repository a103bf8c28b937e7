import { parseModelConfig } from '../src/engine/checkpoint/model-config.ts';
import type { ByteFile, CheckpointSource } from '../src/engine/sources/source.ts';
import { safetensorsHeaderBytes, type HeaderEntry } from '../src/engine/safetensors/serialize-safetensors.ts';
import { qwen2Tensors } from './model-shapes.ts';

/**
 * A random-weight Qwen2 trio at real sizes, made in memory (browser or Node) for the real-size
 * tests: bf16 weights uniform in ±0.04 (norm weights 1), the RL donor = the SFT donor with the
 * low two mantissa bits of each weight flipped at random (v ≈ ±3 bf16 ulps, |v| ≲ 1e-3), and the
 * target = the SFT donor. Deterministic from `seed`; no file on disk.
 */
export interface RandomTrio {
  sft: CheckpointSource;
  rl: CheckpointSource;
  target: CheckpointSource;
  /** Elements in all tensors of one checkpoint. */
  parameters: number;
}

/** xorshift32: fast enough for 10⁸ values, and the same stream everywhere. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

export function randomQwen2Trio(config: Record<string, unknown>, seed = 1): RandomTrio {
  const parsed = parseModelConfig('random', JSON.stringify(config));
  const tensors = qwen2Tensors(parsed, 'BF16').sort((a, b) => (a.name < b.name ? -1 : 1));
  // 65,536 bf16 values uniform in ±0.04, indexed by 16 random bits.
  const table = new Uint16Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < 65536; i++) {
    f[0] = ((i + 0.5) / 65536 - 0.5) * 0.08;
    table[i] = u[0] >>> 16;
  }
  const next = rng(seed);
  const sft: Uint16Array[] = [];
  const rl: Uint16Array[] = [];
  for (const t of tensors) {
    const a = new Uint16Array(t.elements);
    const b = new Uint16Array(t.elements);
    if (t.name.endsWith('norm.weight')) {
      a.fill(0x3f80); // 1.0
      for (let i = 0; i < a.length; i++) b[i] = 0x3f80 ^ (next() & 3);
    } else {
      for (let i = 0; i < a.length; i += 2) {
        const r = next();
        a[i] = table[r & 0xffff];
        a[i + 1] = table[r >>> 16];
      }
      for (let i = 0; i < a.length; i += 16) {
        const r = next();
        for (let k = 0; k < 16 && i + k < a.length; k++) b[i + k] = a[i + k] ^ ((r >>> (2 * k)) & 3);
      }
    }
    sft.push(a);
    rl.push(b);
  }
  let at = 0;
  const entries: HeaderEntry[] = tensors.map((t) => {
    const e: HeaderEntry = { name: t.name, dtype: 'BF16', shape: t.shape, data_offsets: [at, at + t.elements * 2] };
    at += t.elements * 2;
    return e;
  });
  const header = safetensorsHeaderBytes(entries, { format: 'pt' });
  const source = (label: string, data: Uint16Array[]) => memorySource(label, { 'config.json': [new TextEncoder().encode(JSON.stringify(config))], 'model.safetensors': [header, ...data.map((d) => new Uint8Array(d.buffer))] });
  const sftSource = source('random-sft', sft);
  return { sft: sftSource, rl: source('random-rl', rl), target: sftSource, parameters: tensors.reduce((n, t) => n + t.elements, 0) };
}

/**
 * A checkpoint held in memory as lists of byte parts per file, read without concatenating them:
 * Chromium pages large Blobs out to disk, which a headless test browser may not read back
 * (NotReadableError), and a 300 MB copy per file is not needed.
 */
export function memorySource(label: string, files: Record<string, Uint8Array[]>): CheckpointSource {
  const open = (path: string): ByteFile => {
    const parts = files[path];
    if (!parts) throw new Error(`${label}: no ${path}`);
    const size = parts.reduce((a, p) => a + p.length, 0);
    return {
      path,
      size,
      async read(offset, length) {
        const out = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        let at = 0;
        for (const p of parts) {
          const from = Math.max(offset - at, 0);
          const to = Math.min(offset + out.length - at, p.length);
          if (from < to) out.set(p.subarray(from, to), at + from - offset);
          at += p.length;
        }
        return out;
      },
    };
  };
  return {
    kind: 'files',
    label,
    async listFiles() {
      return Object.keys(files).map((path) => ({ path, size: open(path).size }));
    },
    async open(path) {
      return open(path);
    },
  };
}
