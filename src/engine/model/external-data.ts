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
  /** Which data file holds it (0 unless the layout was split by `maxFileBytes`). */
  file: number;
  /** Byte offset in its data file (a multiple of EXTERNAL_DATA_ALIGNMENT). */
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
  /** Size of each data file, in order (one entry unless split by `maxFileBytes`). */
  files: number[];
  /** Size of all data files together. */
  bytes: number;
  /** Tensors larger than `maxFileBytes` on their own: each is alone in a file over the limit. */
  oversized: ExternalTensor[];
}

const alignUp = (n: number) => Math.ceil(n / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;

/**
 * Tensors in the order given (the order the executor will produce them), each page-aligned.
 * With `maxFileBytes`, a tensor that would end past the limit starts the next data file instead
 * (an ONNX initializer lives in one file, so a tensor is never cut; one larger than the limit
 * gets a file of its own and is listed in `oversized`). transformers.js loads such chunks in the
 * browser, each into an ArrayBuffer of its own (export/onnx-folder.ts).
 */
export function layoutExternalData(
  tensors: readonly { name: string; shape: number[] }[],
  dtype: ExternalDataDtype = 'float32',
  opts: { maxFileBytes?: number } = {},
): ExternalDataLayout {
  const max = opts.maxFileBytes ?? Infinity;
  if (!(max > 0)) throw new Error(`external data: maxFileBytes must be positive, got ${max}`);
  const files = [0];
  const out: ExternalTensor[] = [];
  const oversized: ExternalTensor[] = [];
  for (const t of tensors) {
    const length = t.shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[dtype];
    let offset = alignUp(files[files.length - 1]);
    if (offset + length > max && files[files.length - 1] > 0) {
      files.push(0);
      offset = 0;
    }
    const placed = { name: t.name, shape: [...t.shape], file: files.length - 1, offset, length };
    out.push(placed);
    if (length > max) oversized.push(placed);
    files[files.length - 1] = offset + length;
  }
  return { dtype, tensors: out, files, bytes: files.reduce((a, b) => a + b, 0), oversized };
}

/**
 * name → where its bytes are, as decoder-graph.ts's `externalWeights.tensors` takes it: the byte
 * range, and, when `locationOf` is given, the data file's name (else the graph's one location).
 */
export function externalRanges(layout: ExternalDataLayout, locationOf?: (file: number) => string): Map<string, { offset: number; length: number; location?: string }> {
  return new Map(layout.tensors.map((t) => [t.name, { offset: t.offset, length: t.length, ...(locationOf ? { location: locationOf(t.file) } : {}) }]));
}

/** Where the data file's bytes go: appended in order (a cache appender, a file handle). */
export interface SequentialWriter {
  write(bytes: Uint8Array): Promise<void>;
}

/** Where a split layout's data files go: `open(i)` once each, in order, after file i − 1 is complete. */
export interface SequentialFiles {
  open(file: number): Promise<SequentialWriter>;
}

/** The largest run of padding written at once (alignment gaps are smaller than a page). */
const ZEROS = new Uint8Array(EXTERNAL_DATA_ALIGNMENT);

/**
 * The merge executor's sink for the data file(s): each chunk's bytes in the layout's dtype (the executor
 * runs with `outDtype: () => 'F32'` or `'F16'`, so merged and kept chunks both arrive so) land at their
 * tensor's offset, with zero padding between tensors. Chunks arrive in tensor and element order,
 * so each file is written front to back, and a split layout's files one after another (`out` is
 * then a SequentialFiles, asked for file i once file i − 1 holds all its bytes); a chunk that would
 * land anywhere else is a bug, refused. `finish` checks that every file is complete; committing or
 * discarding them is the writer's owner's.
 */
export function externalDataSink(layout: ExternalDataLayout, out: SequentialWriter | SequentialFiles, hooks: Pick<MergeSink, 'finish' | 'abort'> = {}): MergeSink & { readonly written: number } {
  const at = new Map(layout.tensors.map((t) => [t.name, t]));
  const size = ELEMENT_BYTES[layout.dtype];
  const split = 'open' in out;
  if (!split && layout.files.length > 1) throw new Error(`external data: the layout has ${layout.files.length} data files but the sink one writer`);
  let file = 0;
  let writer: SequentialWriter | undefined = split ? undefined : out;
  let position = 0;
  let before = 0; // bytes in the files already complete
  const sink = {
    get written() {
      return before + position;
    },
    async write(c: Chunk, bytes: Uint8Array) {
      const t = at.get(c.tensor.name);
      if (!t) throw new Error(`external data: "${c.tensor.name}" is not in the layout`);
      if (t.file < file) throw new Error(`external data: chunk of "${c.tensor.name}" for data file ${t.file} arrived after file ${file} was started`);
      while (t.file > file) {
        if (position !== layout.files[file]) throw new Error(`external data: data file ${file} ends at byte ${position} of ${layout.files[file]} before "${c.tensor.name}" starts file ${t.file}`);
        before += position;
        position = 0;
        file++;
        writer = undefined;
      }
      writer ??= await (out as SequentialFiles).open(file);
      const target = t.offset + c.start * size;
      if (bytes.length !== c.count * size) throw new Error(`external data: chunk of "${c.tensor.name}" has ${bytes.length} bytes for ${c.count} ${layout.dtype} elements`);
      if (target < position) throw new Error(`external data: chunk of "${c.tensor.name}" at byte ${target} arrived after byte ${position} was written`);
      while (position < target) {
        const pad = ZEROS.subarray(0, Math.min(ZEROS.length, target - position));
        await writer.write(pad);
        position += pad.length;
      }
      if (bytes.length) await writer.write(bytes);
      position += bytes.length;
    },
    async finish(report: Parameters<NonNullable<MergeSink['finish']>>[0]) {
      if (before + position !== layout.bytes || file !== layout.files.length - 1) throw new Error(`external data: ${before + position} of ${layout.bytes} bytes written (data file ${file + 1} of ${layout.files.length})`);
      await hooks.finish?.(report);
    },
    abort: hooks.abort,
  };
  return sink;
}
