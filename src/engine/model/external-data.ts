import type { Chunk } from '../merge/chunks.ts';
import type { MergeSink } from '../merge/merge-executor.ts';

/**
 * Model weights as ONNX external data: one data file holding every weight the decoder graph
 * reads, in float32, each tensor at its own byte range, and a graph whose initializers point into
 * it (decoder-graph.ts `externalWeights`). This is how the CLI runs real models on
 * onnxruntime-node: the graph file stays a few hundred KB (no 2 GB protobuf limit), the weights
 * are never copied into a protobuf or a WASM heap, and the file is written by the merge executor
 * chunk by chunk as it merges (or copies) them — host memory holds a few chunks, not the model.
 * Pure layout and sink here (no Node APIs); the Node file and cache side is node-model-store.ts.
 */

/**
 * Each tensor starts at a multiple of this: a memory page, so onnxruntime can map a tensor
 * straight from the file instead of reading it into a buffer of its own (it maps external data
 * at page-aligned offsets), and the CPU kernels get 64-byte-aligned weights either way.
 */
export const EXTERNAL_DATA_ALIGNMENT = 4096;

/** The data file's name beside the graph files (onnx's own convention: `<model>.onnx.data`). */
export const EXTERNAL_DATA_FILE = 'model.onnx.data';

export interface ExternalTensor {
  name: string;
  shape: number[];
  /** Byte offset in the data file (a multiple of EXTERNAL_DATA_ALIGNMENT). */
  offset: number;
  /** Bytes: elements × 4 (float32) or × 2 (float16). */
  length: number;
}

/** float16: the ONNX export's `model_fp16.onnx` (export/onnx-folder.ts); the CLI's cache is float32. */
export type ExternalDataDtype = 'float32' | 'float16';
const ELEMENT_BYTES: Record<ExternalDataDtype, number> = { float32: 4, float16: 2 };

export interface ExternalDataLayout {
  dtype: ExternalDataDtype;
  tensors: ExternalTensor[];
  /** Size of the complete data file. */
  bytes: number;
}

const alignUp = (n: number) => Math.ceil(n / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;

/** Tensors in the order given (the order the executor will produce them), each page-aligned. */
export function layoutExternalData(tensors: readonly { name: string; shape: number[] }[], dtype: ExternalDataDtype = 'float32'): ExternalDataLayout {
  let offset = 0;
  const out: ExternalTensor[] = [];
  for (const t of tensors) {
    offset = alignUp(offset);
    const length = t.shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[dtype];
    out.push({ name: t.name, shape: [...t.shape], offset, length });
    offset += length;
  }
  return { dtype, tensors: out, bytes: offset };
}

/** name → byte range, as decoder-graph.ts's `externalWeights.tensors` takes it. */
export function externalRanges(layout: ExternalDataLayout): Map<string, { offset: number; length: number }> {
  return new Map(layout.tensors.map((t) => [t.name, { offset: t.offset, length: t.length }]));
}

/** Where the data file's bytes go: appended in order (a cache appender, a file handle). */
export interface SequentialWriter {
  write(bytes: Uint8Array): Promise<void>;
}

/** The largest run of padding written at once (alignment gaps are smaller than a page). */
const ZEROS = new Uint8Array(EXTERNAL_DATA_ALIGNMENT);

/**
 * The merge executor's sink for the data file: each chunk's bytes in the layout's dtype (the executor
 * runs with `outDtype: () => 'F32'` or `'F16'`, so merged and kept chunks both arrive so) land at their
 * tensor's offset, with zero padding between tensors. Chunks arrive in tensor and element order,
 * so the file is written front to back; a chunk that would land anywhere else is a bug, refused.
 * `finish` checks that the file is complete; committing or discarding it is the writer's owner's.
 */
export function externalDataSink(layout: ExternalDataLayout, out: SequentialWriter, hooks: Pick<MergeSink, 'finish' | 'abort'> = {}): MergeSink & { readonly written: number } {
  const at = new Map(layout.tensors.map((t) => [t.name, t]));
  const size = ELEMENT_BYTES[layout.dtype];
  let position = 0;
  const sink = {
    get written() {
      return position;
    },
    async write(c: Chunk, bytes: Uint8Array) {
      const t = at.get(c.tensor.name);
      if (!t) throw new Error(`external data: "${c.tensor.name}" is not in the layout`);
      const target = t.offset + c.start * size;
      if (bytes.length !== c.count * size) throw new Error(`external data: chunk of "${c.tensor.name}" has ${bytes.length} bytes for ${c.count} ${layout.dtype} elements`);
      if (target < position) throw new Error(`external data: chunk of "${c.tensor.name}" at byte ${target} arrived after byte ${position} was written`);
      while (position < target) {
        const pad = ZEROS.subarray(0, Math.min(ZEROS.length, target - position));
        await out.write(pad);
        position += pad.length;
      }
      if (bytes.length) await out.write(bytes);
      position += bytes.length;
    },
    async finish(report: Parameters<NonNullable<MergeSink['finish']>>[0]) {
      if (position !== layout.bytes) throw new Error(`external data: ${position} of ${layout.bytes} bytes written`);
      await hooks.finish?.(report);
    },
    abort: hooks.abort,
  };
  return sink;
}
