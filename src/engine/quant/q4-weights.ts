import type { Chunk } from '../merge/chunks.ts';
import type { MergeSink } from '../merge/merge-executor.ts';
import { EXTERNAL_DATA_ALIGNMENT, type ExternalDataLayout, type ExternalTensor, type SequentialWriter } from '../model/external-data.ts';
import { q4Layout, quantizeQ4, Q4_BLOB_SIZE } from './q4-quantize.ts';

/**
 * Which weights the 4-bit model stores as MatMulNBits inputs, their names, and the data file that
 * holds them (the CLI's model cache, node-model-store.ts).
 *
 * Quantised: every linear projection in the decoder layers (q/k/v/o, gate/up/down) — 97% of a 7B
 * model's layer weights. Kept in float32: the embedding (a Gather, not a MatMul), the head (tied to
 * the embedding in the small Qwen2.5 models, and the logits are what the studio compares), norms
 * and biases (a few KB per layer).
 */

/** A decoder-layer projection weight: `model.layers.N.(self_attn|mlp).X_proj.weight`. */
export const Q4_PROJECTION = /^model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;

/** The weights of a spec that the 4-bit model quantises (in spec order). */
export function q4Tensors(weights: readonly { name: string; shape: number[] }[]): Set<string> {
  return new Set(weights.filter((w) => Q4_PROJECTION.test(w.name) && w.shape.length === 2).map((w) => w.name));
}

/**
 * The three MatMulNBits inputs of a weight, named as onnxruntime's own quantiser names them
 * (matmul_4bits_quantizer: `<B>_Q4`, `<B>_scales`, `<B>_zero_points`), so the safetensors name stays
 * readable in the graph.
 */
export function q4InputNames(tensor: string): { packed: string; scales: string; zeroPoints: string } {
  return { packed: `${tensor}_Q4`, scales: `${tensor}_scales`, zeroPoints: `${tensor}_zero_points` };
}

/** The three inputs' shapes for a [N, K] weight. */
export function q4InputShapes(n: number, k: number): { packed: number[]; scales: number[]; zeroPoints: number[] } {
  const l = q4Layout(n, k);
  return { packed: [n, l.blocks, Q4_BLOB_SIZE], scales: [n, l.blocks], zeroPoints: [n, l.zeroPointRowBytes] };
}

const alignUp = (n: number) => Math.ceil(n / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;

/**
 * The data file of a 4-bit model: float32 tensors as layoutExternalData lays them out, and each
 * quantised weight as its three MatMulNBits inputs (packed codes, float32 scales, zero points),
 * each page-aligned, in the order the merge executor produces the tensors.
 */
export function layoutQ4ExternalData(tensors: readonly { name: string; shape: number[] }[], quantized: ReadonlySet<string>): ExternalDataLayout {
  let offset = 0;
  const out: ExternalTensor[] = [];
  const put = (name: string, shape: number[], bytes: number) => {
    offset = alignUp(offset);
    out.push({ name, shape: [...shape], file: 0, offset, length: bytes });
    offset += bytes;
  };
  for (const t of tensors) {
    if (!quantized.has(t.name)) {
      put(t.name, t.shape, t.shape.reduce((a, b) => a * b, 1) * 4);
      continue;
    }
    const [n, k] = t.shape;
    const l = q4Layout(n, k);
    const names = q4InputNames(t.name);
    const shapes = q4InputShapes(n, k);
    put(names.packed, shapes.packed, l.packedBytes);
    put(names.scales, shapes.scales, l.scaleCount * 4);
    put(names.zeroPoints, shapes.zeroPoints, l.zeroPointBytes);
  }
  return { dtype: 'float32', tensors: out, files: [offset], bytes: offset, oversized: [] };
}

const ZEROS = new Uint8Array(EXTERNAL_DATA_ALIGNMENT);

/**
 * The merge executor's sink for a 4-bit model's data file (the executor runs with
 * `outDtype: () => 'F32'`): float tensors are written as they come; a quantised weight's chunks
 * are gathered into whole rows, each row quantised as soon as it is complete (quantizeQ4, the
 * CPU reference the GPU kernel equals bit for bit), and its three inputs written after its last
 * chunk. Memory: one row of floats plus the tensor's 4-bit output (1/7 of its float32 size).
 */
export function q4ExternalDataSink(layout: ExternalDataLayout, quantized: ReadonlySet<string>, out: SequentialWriter): MergeSink & { readonly written: number } {
  const at = new Map(layout.tensors.map((t) => [t.name, t]));
  let position = 0;
  const writeAt = async (offset: number, bytes: Uint8Array, what: string) => {
    if (offset < position) throw new Error(`q4 external data: "${what}" at byte ${offset} arrived after byte ${position} was written`);
    while (position < offset) {
      const pad = ZEROS.subarray(0, Math.min(ZEROS.length, offset - position));
      await out.write(pad);
      position += pad.length;
    }
    if (bytes.length) await out.write(bytes);
    position += bytes.length;
  };
  let current: { name: string; n: number; k: number; row: Float32Array; filled: number; rowsDone: number; packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array } | undefined;

  return {
    get written() {
      return position;
    },
    async write(c: Chunk, bytes: Uint8Array) {
      const name = c.tensor.name;
      if (!quantized.has(name)) {
        const t = at.get(name);
        if (!t) throw new Error(`q4 external data: "${name}" is not in the layout`);
        if (bytes.length !== c.count * 4) throw new Error(`q4 external data: chunk of "${name}" has ${bytes.length} bytes for ${c.count} float32 elements`);
        return writeAt(t.offset + c.start * 4, bytes, name);
      }
      if (c.start === 0) {
        const [n, k] = c.tensor.shape;
        const l = q4Layout(n, k);
        current = { name, n, k, row: new Float32Array(k), filled: 0, rowsDone: 0, packed: new Uint8Array(l.packedBytes), scales: new Float32Array(l.scaleCount), zeroPoints: new Uint8Array(l.zeroPointBytes) };
      }
      const q = current;
      if (!q || q.name !== name) throw new Error(`q4 external data: chunk of "${name}" arrived without its start`);
      const values = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, c.count) : new Float32Array(bytes.slice().buffer);
      let i = 0;
      while (i < values.length) {
        const take = Math.min(q.k - q.filled, values.length - i);
        q.row.set(values.subarray(i, i + take), q.filled);
        q.filled += take;
        i += take;
        if (q.filled === q.k) {
          const r = quantizeQ4(q.row, 1, q.k, name);
          const l = r.layout;
          q.packed.set(r.packed, q.rowsDone * l.packedBytes);
          q.scales.set(r.scales, q.rowsDone * l.scaleCount);
          q.zeroPoints.set(r.zeroPoints, q.rowsDone * l.zeroPointBytes);
          q.rowsDone++;
          q.filled = 0;
        }
      }
      if (c.last) {
        if (q.rowsDone !== q.n || q.filled !== 0) throw new Error(`q4 external data: "${name}" ended after ${q.rowsDone} of ${q.n} rows`);
        const names = q4InputNames(name);
        await writeAt(at.get(names.packed)!.offset, q.packed, names.packed);
        await writeAt(at.get(names.scales)!.offset, new Uint8Array(q.scales.buffer), names.scales);
        await writeAt(at.get(names.zeroPoints)!.offset, q.zeroPoints, names.zeroPoints);
        current = undefined;
      }
    },
    async finish() {
      if (position !== layout.bytes) throw new Error(`q4 external data: ${position} of ${layout.bytes} bytes written`);
    },
  };
}
