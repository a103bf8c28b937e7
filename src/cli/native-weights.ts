import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Checkpoint } from '../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../engine/errors.ts';
import { CPU_CHUNK_ELEMENTS, CpuTensorMerger } from '../engine/merge/cpu-tensor-merger.ts';
import type { Chunk } from '../engine/merge/chunks.ts';
import { executeMerge, type MergeSink } from '../engine/merge/merge-executor.ts';
import type { MergePlan, PlannedTensor, VocabPolicy } from '../engine/merge/merge-plan.ts';
import type { TensorMerger } from '../engine/merge/tensor-merger.ts';
import type { DecoderSpec } from '../engine/model/decoder-graph.ts';
import type { WeightFeed } from '../engine/model/decoder-model.ts';
import { layoutExternalData } from '../engine/model/external-data.ts';
import { Q4_SCHEME } from '../engine/quant/q4-quantize.ts';
import { layoutQ4ExternalData, q4Tensors } from '../engine/quant/q4-weights.ts';
import { openStoredModel } from '../engine/model/node-model-store.ts';
import { checkpointTensors } from '../engine/model/weights.ts';
import { parseSourceSpec } from '../engine/sources/parse-source-spec.ts';
import { gaussian, streamSeed } from '../engine/sweep/control-vector.ts';

/**
 * The CLI's weights for onnxruntime-node: each kind of θ streamed by the merge executor into the
 * model cache (engine/model/node-model-store.ts) as ONNX external data, or reused from it —
 * - one checkpoint as it is (`studio forward --model`, a sweep's donors alone),
 * - θ_target + α·v merged on the fly (`--sft --rl --target --alpha`, a sweep's v series),
 * - θ_target + α·control (a sweep's control series, control-vector.ts computed chunk by chunk).
 * Identities are shared, so `studio generate` at an α and `studio sweep` over it use one entry.
 * Memory: a few chunks while a file is written, never the model.
 */

export interface NamedSource {
  role: 'model' | 'sft' | 'rl' | 'target';
  /** As given on the command line or in sweep.json (a folder path or hf:…). */
  spec: string;
  ckpt: Checkpoint;
}

/** Below this, writing the weights takes about a second: saying so would be noise. */
const ANNOUNCE_WRITE_BYTES = 256 * 2 ** 20;

/**
 * What a source's bytes are, for the model cache's key: a Hub commit (and endpoint), or a
 * folder's config and weight files by path, size, modification time and inode — a re-saved or
 * edited checkpoint changes at least one of them, so its cached model is never reused.
 */
export async function sourceIdentity(spec: string, ckpt: Checkpoint): Promise<unknown> {
  const src = ckpt.source;
  if (src.kind === 'hub') return { hub: process.env.HF_ENDPOINT || 'https://huggingface.co', label: src.label, revision: src.revision };
  const parsed = parseSourceSpec(spec);
  const root = resolve(parsed.kind === 'local' ? parsed.path : spec);
  const relevant = ckpt.files.filter((f) => f.path === 'config.json' || f.path.endsWith('.safetensors') || f.path.endsWith('.safetensors.index.json'));
  const files = await Promise.all(
    relevant.map(async (f) => {
      const st = await stat(resolve(root, f.path), { bigint: true });
      return [f.path, String(st.size), String(st.mtimeNs), String(st.ino)];
    }),
  );
  return { folder: root, files };
}

/** The plan's tensors the graph reads (a stored but tied lm_head, say, is not). */
export function modelTensors(plan: MergePlan, spec: DecoderSpec): PlannedTensor[] {
  const needed = new Set(spec.weights.map((w) => w.name));
  const tensors = plan.tensors.filter((t) => needed.has(t.name));
  for (const w of spec.weights) if (!tensors.some((t) => t.name === w.name)) throw new StudioError(`the merge of this trio has no "${w.name}", which the model needs.`);
  return tensors;
}

/** α as a cache key: every finite double distinctly (−0 included: target + (−0)·v can differ in a zero's sign). */
const alphaKey = (a: number) => (Object.is(a, -0) ? '-0' : String(a));

export interface NativeWeightsOptions {
  spec: DecoderSpec;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** The merger for θ(α): `--device` in `forward`/`generate`/`eval`, the CPU loop in a sweep. */
  merger?: () => Promise<TensorMerger>;
  /** Default: $STUDIO_CACHE_DIR. */
  cacheRoot?: string;
  /**
   * `--weights`: 'float' (float32, the default) or 'q4' — the decoder layers' projections as 4-bit
   * MatMulNBits inputs, quantised while the file is written (a cache entry of its own).
   */
  weights?: WeightsFormat;
}

export type WeightsFormat = 'float' | 'q4';

export class NativeWeights {
  private readonly ids = new Map<string, Promise<unknown>>();
  private controlNorms?: Promise<Map<string, { vNorm2: number; gNorm2: number }>>;

  constructor(private readonly o: NativeWeightsOptions) {}

  private identity(s: NamedSource): Promise<unknown> {
    let id = this.ids.get(s.spec);
    if (!id) this.ids.set(s.spec, (id = sourceIdentity(s.spec, s.ckpt)));
    return id;
  }

  private async stored(identity: Record<string, unknown>, tensors: readonly PlannedTensor[], fill: (sink: MergeSink) => Promise<unknown>): Promise<WeightFeed> {
    const quantized = this.o.weights === 'q4' ? q4Tensors(tensors) : undefined;
    const layout = quantized ? layoutQ4ExternalData(tensors, quantized) : layoutExternalData(tensors);
    const files = await openStoredModel({
      identity: { dtype: 'float32', ...(quantized ? { weights: Q4_SCHEME } : {}), ...identity },
      layout,
      fill,
      quantized,
      root: this.o.cacheRoot,
      log: layout.bytes >= ANNOUNCE_WRITE_BYTES ? this.o.log : undefined,
    });
    return { kind: 'external', files };
  }

  /** One checkpoint's weights as the model reads them (checked against the spec). */
  async checkpoint(source: NamedSource, signal?: AbortSignal): Promise<WeightFeed> {
    const tensors = checkpointTensors(source.ckpt, this.o.spec);
    // The role is left out: a donor run alone and the same folder given as --model are one model.
    return this.stored({ sources: [await this.identity(source)], alpha: null }, tensors, (sink) =>
      executeMerge({ tensors, chunkElements: CPU_CHUNK_ELEMENTS, compute: 'merge', alpha: 0, parts: { merged: false, kept: true }, outDtype: () => 'F32', sink, signal }),
    );
  }

  private async trioIdentity(trio: TrioSources, vocabPolicy: VocabPolicy | undefined) {
    const ids = await Promise.all(trio.map((s) => this.identity(s)));
    return { vocabPolicy: vocabPolicy ?? 'refuse', sources: trio.map((s, i) => ({ role: s.role, ...(ids[i] as object) })) };
  }

  /** θ_target + α·v through the merger (float32 compute, as `studio merge --dtype f32`). */
  async merged(trio: TrioSources, plan: MergePlan, vocabPolicy: VocabPolicy | undefined, alpha: number, signal?: AbortSignal): Promise<WeightFeed> {
    const tensors = modelTensors(plan, this.o.spec);
    return this.stored({ ...(await this.trioIdentity(trio, vocabPolicy)), alpha: alphaKey(alpha) }, tensors, async (sink) => {
      const merger = await (this.o.merger ?? (async () => new CpuTensorMerger()))();
      try {
        await executeMerge({ tensors, merger, compute: 'merge', alpha, parts: { merged: true, kept: true }, outDtype: () => 'F32', sink, signal });
      } finally {
        merger.destroy();
      }
    });
  }

  /**
   * θ_target + α·control, bit for bit as the host sweep backend makes it in memory (controlTensor:
   * per tensor, normal draws scaled in float64 to ‖v‖₂, stored as float32; then the merger's
   * float32 rounding), but streamed: the norms come from one pass over the donors (kept for the
   * following α), and each α re-reads the target and redraws the stream chunk by chunk.
   */
  async control(trio: TrioSources, plan: MergePlan, vocabPolicy: VocabPolicy | undefined, seed: number, alpha: number, signal?: AbortSignal): Promise<WeightFeed> {
    const tensors = modelTensors(plan, this.o.spec);
    return this.stored({ ...(await this.trioIdentity(trio, vocabPolicy)), alpha: alphaKey(alpha), control: { seed } }, tensors, async (sink) => {
      const norms = await (this.controlNorms ??= controlNorms(tensors, seed, signal));
      const a = Math.fround(alpha);
      let draw: (() => number) | undefined;
      let scale = 0;
      const f32 = new Float32Array(CPU_CHUNK_ELEMENTS);
      // Only the target is read (kept parts of every tensor); α·control is added to the first
      // `mergedElements` of each, where v — and so the control — lives.
      const copies = tensors.map((t) => ({ ...t, mergedElements: 0 }));
      const merged = new Map(tensors.map((t) => [t.name, t.mergedElements]));
      await executeMerge({
        tensors: copies,
        chunkElements: CPU_CHUNK_ELEMENTS,
        compute: 'merge',
        alpha: 0,
        parts: { merged: false, kept: true },
        outDtype: () => 'F32',
        signal,
        sink: {
          write(c: Chunk, bytes: Uint8Array) {
            const m = merged.get(c.tensor.name)!;
            if (c.start === 0) {
              const n = norms.get(c.tensor.name);
              draw = n && n.vNorm2 > 0 && n.gNorm2 > 0 ? gaussian(streamSeed(seed, c.tensor.name)) : undefined;
              scale = n && draw ? Math.sqrt(n.vNorm2 / n.gNorm2) : 0;
            }
            const end = Math.min(c.start + c.count, m);
            if (end <= c.start) return sink.write(c, bytes, {});
            const out = f32.subarray(0, c.count);
            new Uint8Array(out.buffer, 0, bytes.length).set(bytes);
            for (let i = 0; i < end - c.start; i++) {
              // A zero control (v all zero) leaves the target as it is: t + f32(α·0) = t.
              const control = draw ? Math.fround(draw() * scale) : 0;
              out[i] = out[i] + Math.fround(a * control);
            }
            return sink.write(c, new Uint8Array(out.buffer, 0, bytes.length), {});
          },
          finish: (r) => sink.finish?.(r) ?? Promise.resolve(),
          abort: () => sink.abort?.() ?? Promise.resolve(),
        },
      });
    });
  }
}

export type TrioSources = readonly [NamedSource, NamedSource, NamedSource];

/**
 * Σ v² (float64, in element order, over v's float32 values — controlTensor's order) and Σ g² of
 * the tensor's normal draws, per tensor with a vector part: one pass over the donors.
 */
async function controlNorms(tensors: readonly PlannedTensor[], seed: number, signal?: AbortSignal): Promise<Map<string, { vNorm2: number; gNorm2: number }>> {
  const norms = new Map<string, { vNorm2: number; gNorm2: number }>();
  const merger = new CpuTensorMerger();
  try {
    await executeMerge({
      tensors,
      merger,
      compute: 'vector',
      readTarget: false,
      alpha: 0,
      parts: { merged: true, kept: false },
      outDtype: () => 'F32',
      signal,
      sink: {
        write(c, bytes) {
          const v = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, c.count) : new Float32Array(bytes.slice().buffer);
          const n = norms.get(c.tensor.name) ?? { vNorm2: 0, gNorm2: 0 };
          for (let i = 0; i < v.length; i++) n.vNorm2 += v[i] * v[i];
          norms.set(c.tensor.name, n);
          if (c.last) {
            const draw = gaussian(streamSeed(seed, c.tensor.name));
            for (let i = 0; i < c.tensor.mergedElements; i++) {
              const g = draw();
              n.gNorm2 += g * g;
            }
          }
        },
      },
    });
  } finally {
    merger.destroy();
  }
  return norms;
}
