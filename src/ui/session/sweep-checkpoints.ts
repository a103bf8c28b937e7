import type { Checkpoint, TensorInfo } from '../../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../../engine/errors.ts';
import { decodeToF32 } from '../../engine/merge/half-float.ts';
import type { SafetensorsHeader } from '../../engine/safetensors/parse-safetensors-header.ts';
import type { CheckpointSource } from '../../engine/sources/source.ts';
import { controlTensor } from '../../engine/sweep/control-vector.ts';

/**
 * Checkpoints computed on read, so the page's other series run through the same GPU merge as v
 * (LiveModel: θ(α) = θ_target + α·(θ_rl − θ_sft), one kernel pass per α, sessions reused):
 * - the control: a trio (zeros, control, target) — v' = control − 0 = control exactly, so
 *   θ'(α) = θ_target + α·control, the host backend's control merge (host-sweep-backend.ts);
 * - a donor alone: a trio (zeros, zeros, donor) at α = 0 — θ = f32(donor), bit for bit.
 * Both are float32, shaped like the donor pair's tensors (so the merge plan, the vocab policy and
 * the tied head are decided exactly as for the real trio), and read lazily, one tensor at a time.
 */

function virtualSource(label: string): CheckpointSource {
  return {
    kind: 'files',
    label,
    listFiles: async () => [],
    open: async (path) => {
      throw new Error(`${label} is computed, not stored: it has no file ${path}`);
    },
  };
}

/** `like`'s tensors as float32 entries of one virtual file, read through `read(name, tensor)`. */
function computedCheckpoint(label: string, like: Checkpoint, read: (t: TensorInfo, offset: number, length: number) => Promise<Uint8Array>): Checkpoint {
  const file = 'computed.safetensors';
  let at = 0;
  const tensors = new Map<string, TensorInfo>();
  for (const t of like.tensors.values()) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    tensors.set(t.name, { name: t.name, dtype: 'F32', shape: t.shape, byteOffset: at, byteLength: elements * 4, file });
    at += elements * 4;
  }
  const header: SafetensorsHeader = { file, fileSize: at, headerLength: 0, metadata: {}, tensors: [...tensors.values()] };
  return {
    source: virtualSource(label),
    config: like.config,
    files: [],
    shards: [header],
    sharded: false,
    tensors,
    tiedHead: like.tiedHead,
    tokenizerFiles: [],
    async readTensorBytes(name, offset = 0, length) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${label} has no tensor "${name}"`);
      const len = length ?? t.byteLength - offset;
      if (offset < 0 || len < 0 || offset + len > t.byteLength) throw new RangeError(`read of ${name} [${offset}, ${offset + len}) outside its ${t.byteLength} bytes`);
      return read(t, offset, len);
    },
  };
}

/** Zeros with `like`'s tensor names and shapes. */
export function zerosLike(like: Checkpoint): Checkpoint {
  return computedCheckpoint(`zeros (shaped as ${like.source.label})`, like, async (_t, _offset, length) => new Uint8Array(length));
}

/**
 * The control vector as a checkpoint: per tensor, v = f32(rl) − f32(sft) rounded to float32 (the
 * merge's v), then controlTensor(seed, name, v) — standard normal draws scaled to ‖v‖₂. A tensor
 * is computed whole (its norm needs all of v) and kept until another is read, so a merge that
 * reads it chunk by chunk computes it once.
 */
export function controlCheckpoint(sft: Checkpoint, rl: Checkpoint, seed: number): Checkpoint {
  // One computation per tensor even when the merge reads several of its chunks at once.
  let last: { name: string; bytes: Promise<Uint8Array> } | undefined;
  const compute = async (t: TensorInfo): Promise<Uint8Array> => {
    const elements = t.byteLength / 4;
    const r = rl.tensors.get(t.name);
    const v = new Float32Array(elements);
    if (r && r.byteLength / bytesPer(r.dtype) === elements) {
      const a = await readF32(sft, t.name, elements);
      const b = await readF32(rl, t.name, elements);
      for (let i = 0; i < elements; i++) v[i] = b[i] - a[i]; // stored as float32: the merge's f32(rl) − f32(sft)
    }
    const c = controlTensor(seed, t.name, v);
    return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  };
  const whole = (t: TensorInfo): Promise<Uint8Array> => {
    if (last?.name !== t.name) {
      const bytes = compute(t);
      last = { name: t.name, bytes };
      bytes.catch(() => last?.bytes === bytes && (last = undefined));
    }
    return last.bytes;
  };
  return computedCheckpoint(`control vector (seed ${seed})`, sft, async (t, offset, length) => (await whole(t)).subarray(offset, offset + length));
}

/**
 * A donor tensor as float32. The read is checked: in the page a ranged read of the demo's files
 * has come back empty under load (seen while building this model, not reproduced in isolation),
 * which would otherwise surface as a bare RangeError; it is read once more, then named.
 */
async function readF32(ckpt: Checkpoint, name: string, elements: number): Promise<Float32Array> {
  const info = ckpt.tensors.get(name)!;
  for (let attempt = 1; ; attempt++) {
    const bytes = await ckpt.readTensorBytes(name);
    if (bytes.byteLength === info.byteLength) return decodeToF32(bytes, info.dtype, elements, new Float32Array(elements));
    if (attempt === 2) {
      throw new StudioError(`${ckpt.source.label}: reading tensor ${name} gave ${bytes.byteLength} of its ${info.byteLength} bytes twice; check the connection to where the checkpoint is served, then run the sweep again (finished items are kept).`);
    }
  }
}

function bytesPer(dtype: string): number {
  return dtype === 'F32' ? 4 : 2;
}
