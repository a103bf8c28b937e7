import onnxProto, { type onnx as P } from 'onnx-proto';
import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { StudioError } from '../errors.ts';
import { configJsonFor, tokenizerFilesOf } from '../merge/export-files.ts';
import { CPU_CHUNK_ELEMENTS } from '../merge/cpu-tensor-merger.ts';
import { executeMerge, type MergeProgress } from '../merge/merge-executor.ts';
import type { MergePlan, PlannedTensor } from '../merge/merge-plan.ts';
import type { OutputFile, OutputFolder } from '../merge/output/output-folder.ts';
import type { TensorMerger } from '../merge/tensor-merger.ts';
import { buildDecoderGraph, type DecoderSpec } from '../model/decoder-graph.ts';
import { externalDataSink, externalRanges, layoutExternalData } from '../model/external-data.ts';

const { onnx } = onnxProto;

/**
 * θ(α) as a transformers.js / Optimum-style folder, so the merged model runs in anyone's app:
 *
 *   config.json                the target's, plus `transformers.js_config` (dtype, external data)
 *   generation_config.json     the target's (or bos/eos from config.json)
 *   tokenizer.json, tokenizer_config.json, …   the target's
 *   onnx/model.onnx            (fp32) or onnx/model_fp16.onnx (fp16): the studio's own decoder graph
 *   onnx/model.onnx_data       the weights, as ONNX external data the graph's initializers point into
 *   onnx/model.onnx_data_1, …  further data files when the weights pass 2 GB (each below it)
 *
 * Names are transformers.js 4.x's: it loads `onnx/model{suffix}.onnx` (suffix '' for fp32,
 * '_fp16' for fp16; src/utils/dtypes.js DEFAULT_DTYPE_SUFFIX_MAPPING) and, when
 * `transformers.js_config.use_external_data_format` gives the file's number of chunks N, the
 * data chunks `<file>_data`, `<file>_data_1` … `<file>_data_{N-1}` beside it
 * (src/utils/model-loader.js getExternalDataChunkNames; at most 100). In a browser it fetches each
 * chunk into one ArrayBuffer, so each is kept below 2 GB; a tensor is never cut (an initializer
 * lives in one file). The graph's I/O
 * are the Optimum decoder names it feeds: input_ids, attention_mask, position_ids,
 * past_key_values.N.key/value → logits (every position), present.N.key/value.
 *
 * The graph is the one the studio runs (decoder-graph.ts), except that the weights are
 * initializers in the data file instead of graph inputs, and the batch dimension is called
 * `batch_size`: transformers.js builds the empty first-step cache from the session's input
 * metadata and resolves only that symbol (any other becomes 0, an empty batch).
 *
 * Streaming: the merge executor writes the data file chunk by chunk (memory holds a few chunks,
 * not the model); everything is written into the output folder under temporary names and appears
 * only when complete (OutputFolder.commit).
 */

export type OnnxExportDtype = 'fp32' | 'fp16';
export const ONNX_EXPORT_DTYPES: readonly OnnxExportDtype[] = ['fp32', 'fp16'];

/** transformers.js's file name for a dtype (its DEFAULT_DTYPE_SUFFIX_MAPPING). */
export function onnxModelFile(dtype: OnnxExportDtype): string {
  return dtype === 'fp16' ? 'model_fp16.onnx' : 'model.onnx';
}
/** transformers.js's name for external data chunk `index` (0-based) of `model`. */
export const externalDataFileOf = (model: string, index = 0) => (index === 0 ? `${model}_data` : `${model}_data_${index}`);
export const ONNX_SUBFOLDER = 'onnx';

/**
 * The largest data chunk by default: transformers.js fetches each chunk into one ArrayBuffer in
 * the browser, and Chrome stops near 2 GB. Node loads any size by path. A single tensor above this
 * (Qwen2.5-7B's float32 embedding is 2.18 GB) still gets a chunk of its own, and the export says
 * that browsers cannot load it (fp16 halves it).
 */
export const BROWSER_DATA_CHUNK_LIMIT = 2 ** 31 - 1;

/** What config.json's `studio_export.formula` records for a merged export (the CLI's and the page's). */
export const EXPORT_FORMULA = 'θ_target + α·(θ_RL − θ_SFT), float32';

/** transformers.js refuses more chunks than this (MAX_EXTERNAL_DATA_CHUNKS). */
export const MAX_DATA_CHUNKS = 100;

/** The symbolic dimension names transformers.js and Optimum use (see the module comment). */
const DIM_NAMES: Record<string, string> = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past_sequence: 'past_sequence_length',
  total_sequence: 'total_sequence_length',
};

/**
 * The decoder graph with its weights as initializers in `modelFile`'s data chunks, dims renamed for
 * transformers.js. Built by the studio's own builder (externalWeights), then its dim names
 * rewritten in the protobuf: one graph, two consumers.
 */
export function exportGraphBytes(spec: DecoderSpec, config: Parameters<typeof buildDecoderGraph>[0], layout: ReturnType<typeof layoutExternalData>, modelFile: string): Uint8Array {
  const bytes = buildDecoderGraph(config, spec, {
    logits: 'all',
    compute: layout.dtype,
    externalWeights: { location: externalDataFileOf(modelFile), tensors: externalRanges(layout, (i) => externalDataFileOf(modelFile, i)) },
  });
  const model = onnx.ModelProto.decode(bytes);
  const rename = (vi: P.IValueInfoProto) => {
    for (const d of vi.type?.tensorType?.shape?.dim ?? []) if (d.dimParam && DIM_NAMES[d.dimParam]) d.dimParam = DIM_NAMES[d.dimParam];
  };
  model.graph!.input!.forEach(rename);
  model.graph!.output!.forEach(rename);
  model.producerName = 'reasoning-vector-studio (export-onnx)';
  return onnx.ModelProto.encode(model).finish();
}

/** The tensors the graph reads, in its order, from a merge plan (θ(α)) or one checkpoint. */
export function exportTensors(source: { plan: MergePlan } | { tensors: PlannedTensor[] }, spec: DecoderSpec): PlannedTensor[] {
  if ('tensors' in source) return source.tensors;
  const byName = new Map(source.plan.tensors.map((t) => [t.name, t]));
  return spec.weights.map((w) => {
    const t = byName.get(w.name);
    if (!t) throw new StudioError(`the merge of this trio has no "${w.name}", which the model needs.`);
    return t;
  });
}

export interface OnnxExportOptions {
  /** The checkpoint whose config, tokenizer and generation config the folder carries (the target). */
  ckpt: Checkpoint;
  spec: DecoderSpec;
  /** From exportTensors: planned merged tensors (with `merger` and `alpha`) or one checkpoint's kept tensors. */
  tensors: PlannedTensor[];
  merger?: TensorMerger;
  alpha: number;
  dtype: OnnxExportDtype;
  /** Takes names with one subfolder (`onnx/…`); published by commit() only when everything is written. */
  out: OutputFolder;
  /** Recorded in config.json's `transformers.js_config` neighbour `studio_export` (sources, α). */
  provenance?: Record<string, unknown>;
  /** The largest data chunk (default BROWSER_DATA_CHUNK_LIMIT, what browsers load). */
  maxDataFileBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
}

export interface OnnxExportReport {
  /** Paths inside the folder, in the order written. */
  files: string[];
  /** Size of the external data, all chunks together. */
  dataBytes: number;
  /** Size of each data chunk (onnx/<model>_data, _data_1, …). */
  dataFiles: number[];
  seconds: number;
  /** Tensors whose output holds NaN or ±Inf (merged and kept ones alike; `tensor` as in the merge summary). */
  nonFinite: { tensor: string; nan: number; inf: number }[];
  notes: string[];
}

/**
 * A size in decimal units (B, KB, MB, GB, TB; at most three significant digits), the units
 * `--max-data-file` takes, so a limit the user typed reads back as typed (40KB → "40 KB").
 * `up`: rounded up, for a least size to suggest.
 */
export function formatDataSize(bytes: number, round: 'nearest' | 'up' = 'nearest'): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (u < units.length - 1 && bytes >= 1000 ** (u + 1)) u++;
  if (u === 0) return `${bytes} B`;
  const v = bytes / 1000 ** u;
  const scale = 10 ** (v >= 100 ? 0 : v >= 10 ? 1 : 2);
  return `${(round === 'up' ? Math.ceil(v * scale - 1e-9) : Math.round(v * scale)) / scale} ${units[u]}`;
}

/**
 * The data file limit as the user gave it: a small limit the short form would round (4096 →
 * "4.1 KB") in exact bytes, since the user typed that number.
 */
function formatLimit(bytes: number): string {
  return bytes < 1e6 && bytes % 1000 !== 0 && bytes >= 1000 ? `${bytes.toLocaleString('en-US')} bytes` : formatDataSize(bytes);
}

/** Two sizes that must read as different (a tensor just over the limit): exact bytes where the short forms agree. */
function formatSizePair(a: number, b: number): [string, string] {
  const [fa, fb] = [formatDataSize(a), formatLimit(b)];
  return fa === fb && a !== b ? [`${a.toLocaleString('en-US')} bytes`, `${b.toLocaleString('en-US')} bytes`] : [fa, fb];
}

/**
 * The data files' layout for an export, refused when transformers.js could not load it (more than
 * MAX_DATA_CHUNKS files): the CLI calls this before it creates the output folder, and
 * exportOnnxFolder again. The refusal names the least limit that works.
 */
export function onnxDataLayout(tensors: readonly PlannedTensor[], dtype: OnnxExportDtype, maxDataFileBytes = BROWSER_DATA_CHUNK_LIMIT): ReturnType<typeof layoutExternalData> {
  const layoutAt = (max: number) => layoutExternalData(tensors, dtype === 'fp16' ? 'float16' : 'float32', { maxFileBytes: max });
  const layout = layoutAt(maxDataFileBytes);
  if (layout.files.length <= MAX_DATA_CHUNKS) return layout;
  // Fewer files never come from a smaller limit (each file can only start later), so the least
  // limit that fits is found by bisection; the whole data in one file always fits.
  let lo = maxDataFileBytes;
  let hi = Math.max(layout.bytes, maxDataFileBytes);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (layoutAt(mid).files.length <= MAX_DATA_CHUNKS) hi = mid;
    else lo = mid;
  }
  throw new StudioError(
    `the weights (${formatDataSize(layout.bytes)}) need ${layout.files.length} data files of at most ${formatLimit(maxDataFileBytes)}; transformers.js loads at most ${MAX_DATA_CHUNKS}. ` +
      `Allow larger data files: at least ${formatDataSize(hi, 'up').replace(' ', '')} (the CLI's --max-data-file).`,
  );
}

/** What the folder's data files mean for a loader: the split, tensors with a file of their own, files a browser cannot load. */
export function dataFileNotes(layout: ReturnType<typeof layoutExternalData>, maxFile: number, dtype: OnnxExportDtype, model: string): string[] {
  const notes: string[] = [];
  const browserCannot = (bytes: number) => bytes > BROWSER_DATA_CHUNK_LIMIT;
  if (layout.files.length > 1) {
    notes.push(
      `The weights (${formatDataSize(layout.bytes)}) are split over ${layout.files.length} data files of at most ${formatLimit(maxFile)} each` +
        `${layout.files.some(browserCannot) ? '' : ', each small enough for a browser to load'} (config.json's transformers.js_config.use_external_data_format says how many).`,
    );
  }
  const alone = new Set(layout.oversized.map((t) => t.file));
  for (const t of layout.oversized) {
    const [size, limit] = formatSizePair(t.length, maxFile);
    const where = `${t.name} alone is ${size}, more than one data file may hold (${limit}); it has a data file of its own`;
    // Only a chunk over what a browser's one ArrayBuffer takes is a problem for anyone.
    notes.push(browserCannot(t.length) ? `${where}, which transformers.js loads in Node but a browser cannot${dtype === 'fp32' ? ' (fp16 halves it)' : ''}.` : `${where}.`);
  }
  // A limit above the browser's (the CLI's --max-data-file) can make ordinary chunks too large for it.
  const large = layout.files.map((bytes, i) => ({ bytes, i })).filter((f) => browserCannot(f.bytes) && !alone.has(f.i));
  if (large.length) {
    notes.push(
      `${large.map((f) => `${ONNX_SUBFOLDER}/${externalDataFileOf(model, f.i)} (${formatDataSize(f.bytes)})`).join(', ')} ${large.length === 1 ? 'is' : 'are'} larger than ${formatDataSize(BROWSER_DATA_CHUNK_LIMIT)}: ` +
        `transformers.js loads ${large.length === 1 ? 'it' : 'them'} in Node, but a browser cannot.`,
    );
  }
  return notes;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** config.json with what transformers.js reads to pick the file and its external data. */
async function exportConfigJson(o: OnnxExportOptions, model: string, chunks: number): Promise<Uint8Array> {
  const raw = JSON.parse(new TextDecoder().decode(await configJsonFor(o.ckpt, o.dtype === 'fp16' ? 'F16' : 'F32'))) as Record<string, unknown>;
  const previous = (raw['transformers.js_config'] ?? {}) as Record<string, unknown>;
  raw['transformers.js_config'] = { ...previous, dtype: o.dtype, use_external_data_format: { [model]: chunks } };
  if (o.provenance) raw.studio_export = o.provenance;
  return utf8(JSON.stringify(raw, null, 2) + '\n');
}

/** The target's generation_config.json, or one with the ids config.json gives. */
function generationConfigJson(o: OnnxExportOptions): Uint8Array {
  const c = o.ckpt.config.raw;
  const doc: Record<string, unknown> = {};
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (c[k] !== undefined && c[k] !== null) doc[k] = c[k];
  return utf8(JSON.stringify(doc, null, 2) + '\n');
}

/** Writes the folder; on any failure or cancellation nothing remains (the folder is aborted). */
export async function exportOnnxFolder(o: OnnxExportOptions): Promise<OnnxExportReport> {
  const started = performance.now();
  const model = onnxModelFile(o.dtype);
  const maxFile = o.maxDataFileBytes ?? BROWSER_DATA_CHUNK_LIMIT;
  const files: string[] = [];
  const notes: string[] = [];
  const put = async (name: string, bytes: Uint8Array) => {
    const f = await o.out.create(name);
    await f.write(bytes);
    await f.close();
    files.push(name);
  };
  let data: OutputFile | undefined;
  const closeData = async () => {
    const f = data;
    data = undefined;
    await f?.close();
  };
  try {
    // Inside the try: a layout transformers.js cannot load is refused with the folder aborted.
    const layout = onnxDataLayout(o.tensors, o.dtype, maxFile);
    notes.push(...dataFileNotes(layout, maxFile, o.dtype, model));
    if (o.spec.maxSequence < o.ckpt.config.maxPositionEmbeddings) {
      // The graph has no sliding-window mask (decoder-graph.ts): the studio caps sequences at the
      // window instead, where full attention is the same; transformers.js knows no such cap.
      notes.push(`The model attends within a sliding window of ${o.spec.maxSequence} tokens, which the exported graph does not implement: keep prompt + generation within ${o.spec.maxSequence} tokens in transformers.js.`);
    }
    // The graph first: a model the builder refuses is refused before any weight is read.
    const graph = exportGraphBytes(o.spec, o.ckpt.config, layout, model);
    // Data chunks one after another: the sink asks for chunk i once chunk i − 1 is complete.
    const chunks = {
      async open(i: number) {
        await closeData();
        const name = `${ONNX_SUBFOLDER}/${externalDataFileOf(model, i)}`;
        data = await o.out.create(name);
        files.push(name);
        return data;
      },
    };
    const merged = o.tensors.some((t) => t.mergedElements > 0);
    const report = await executeMerge({
      tensors: o.tensors,
      merger: merged ? o.merger : undefined,
      chunkElements: merged ? undefined : CPU_CHUNK_ELEMENTS,
      compute: 'merge',
      alpha: o.alpha,
      parts: { merged, kept: true },
      outDtype: () => (o.dtype === 'fp16' ? 'F16' : 'F32'),
      signal: o.signal,
      onProgress: o.onProgress,
      // The folder is aborted below on failure; the executor's own abort has nothing more to do.
      sink: externalDataSink(layout, chunks),
    });
    await closeData();
    await put(`${ONNX_SUBFOLDER}/${model}`, graph);
    await put('config.json', await exportConfigJson(o, model, layout.files.length));
    const tokenizer = await tokenizerFilesOf(o.ckpt);
    for (const t of tokenizer) await put(t.name, t.bytes);
    if (!tokenizer.some((t) => t.name === 'generation_config.json')) await put('generation_config.json', generationConfigJson(o));
    if (!tokenizer.some((t) => t.name === 'tokenizer.json')) notes.push('The target has no tokenizer.json: transformers.js can run the model on token ids, but AutoTokenizer will not load this folder.');
    await o.out.commit();
    const nonFinite = report.tensors.filter((t) => t.nan || t.inf).map((t) => ({ tensor: t.name, nan: t.nan, inf: t.inf }));
    return { files, dataBytes: layout.bytes, dataFiles: layout.files, seconds: (performance.now() - started) / 1000, nonFinite, notes };
  } catch (e) {
    await data?.close().catch(() => {});
    await o.out.abort().catch(() => {});
    throw e;
  }
}
