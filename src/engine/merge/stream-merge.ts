import { safetensorsHeaderBytes, type HeaderEntry } from '../safetensors/serialize-safetensors.ts';
import { executeMerge, type ExecutionReport, type MergeProgress, type MergeSink } from './merge-executor.ts';
import { INDEX_FILE, shardIndexJson, type MergePlan } from './merge-plan.ts';
import type { OutputFile, OutputFolder } from './output/output-folder.ts';
import type { TensorMerger } from './tensor-merger.ts';

export { finishStats, MergeCancelledError, type MergeProgress, type TensorReport, type VectorStats } from './merge-executor.ts';

/**
 * A MergePlan run by the merge executor into safetensors files: the output bytes of each chunk
 * are streamed straight into the plan's shards (headers first), followed by the index and the
 * caller's extra files, and published only when everything succeeded. Host memory holds a few
 * chunks of inputs and outputs, whatever the model size.
 */

export interface MergeRunOptions {
  plan: MergePlan;
  merger: TensorMerger;
  /** Ignored for a vector. */
  alpha: number;
  /** Absent: a statistics-only pass, nothing written. */
  out?: OutputFolder;
  /** config.json, tokenizer files, recipe …: written after the weights, before the commit. */
  extraFiles?: (report: MergeReport) => Promise<{ name: string; bytes: Uint8Array }[]>;
  stats?: boolean;
  /** Safetensors `__metadata__` besides `{"format": "pt"}`. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (p: MergeProgress) => void;
  /** Chunks whose reads are in flight ahead of the one being merged (default 2). */
  prefetch?: number;
}

export interface MergeReport extends ExecutionReport {
  files: string[];
  bytesWritten: number;
}

export async function runMerge(o: MergeRunOptions): Promise<MergeReport> {
  const { plan, out } = o;
  const writer = out ? safetensorsWriter(plan, out, o) : undefined;
  const report = await executeMerge({
    tensors: plan.tensors,
    merger: o.merger,
    compute: plan.mode,
    alpha: o.alpha,
    // A statistics-only pass visits only the tensors that receive α·v.
    parts: { merged: true, kept: writer !== undefined },
    stats: o.stats,
    output: writer !== undefined,
    sink: writer ?? { write: () => {} },
    signal: o.signal,
    onProgress: o.onProgress,
    prefetch: o.prefetch,
  });
  return { ...report, files: writer?.files ?? [], bytesWritten: writer?.bytesWritten ?? 0 };
}

/** The file sink: shard by shard, each opened with its header when its first chunk arrives. */
function safetensorsWriter(plan: MergePlan, out: OutputFolder, o: Pick<MergeRunOptions, 'metadata' | 'extraFiles'>) {
  const fileOf = new Map(plan.files.flatMap((f) => f.tensors.map((t) => [t, f] as const)));
  const headerOf = (f: MergePlan['files'][number]) => {
    let offset = 0;
    const entries: HeaderEntry[] = f.tensors.map((t) => {
      const e: HeaderEntry = { name: t.name, dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
      offset += t.byteLength;
      return e;
    });
    return safetensorsHeaderBytes(entries, { format: 'pt', ...o.metadata });
  };
  let current: { name: string; file: OutputFile } | undefined;
  const w = {
    files: [] as string[],
    bytesWritten: 0,
    async write(c, bytes) {
      const f = fileOf.get(c.tensor)!;
      if (current?.name !== f.name) {
        await current?.file.close();
        current = { name: f.name, file: await out.create(f.name) };
        w.files.push(f.name);
        const header = headerOf(f);
        await current.file.write(header);
        w.bytesWritten += header.length;
      }
      await current.file.write(bytes);
      w.bytesWritten += bytes.length;
    },
    async finish(report) {
      await current?.file.close();
      current = undefined;
      const extra = [
        ...(plan.sharded ? [{ name: INDEX_FILE, bytes: new TextEncoder().encode(shardIndexJson(plan)) }] : []),
        ...((await o.extraFiles?.({ ...report, files: w.files, bytesWritten: w.bytesWritten })) ?? []),
      ];
      for (const x of extra) {
        const f = await out.create(x.name);
        await f.write(x.bytes);
        await f.close();
        w.files.push(x.name);
      }
      await out.commit();
    },
    abort: () => out.abort(),
  } satisfies MergeSink & Record<string, unknown>;
  return w;
}
