// Benchmark harness page (scripts/bench-merge.ts drives it): the same trio, held in memory,
// merged by the GPU path and by the TypeScript CPU loop on this page, timed in one run.
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { GpuTensorMerger } from '../../src/engine/merge/gpu-tensor-merger.ts';
import { planMerge } from '../../src/engine/merge/merge-plan.ts';
import { memoryOutputFolder } from '../../src/engine/merge/output/output-folder.ts';
import { runMerge } from '../../src/engine/merge/stream-merge.ts';
import type { TensorMerger } from '../../src/engine/merge/tensor-merger.ts';
import { bytesFile, type CheckpointSource, type FileEntry } from '../../src/engine/sources/source.ts';

/** A checkpoint fetched whole into memory first, so the timings measure merging, not HTTP. */
async function memorySource(base: string): Promise<CheckpointSource> {
  const files = ((await (await fetch(`${base}/manifest.json`)).json()) as { files: FileEntry[] }).files;
  const bytes = new Map<string, Uint8Array>();
  for (const f of files) bytes.set(f.path, new Uint8Array(await (await fetch(`${base}/${f.path}`)).arrayBuffer()));
  return { kind: 'files', label: base, listFiles: async () => files, open: async (p) => bytesFile(p, bytes.get(p)!) };
}

(window as unknown as { runBench: unknown }).runBench = async (bases: { sft: string; rl: string; target: string }, repeats: number) => {
  const { device, adapterInfo } = await requestGpu();
  const [sft, rl, target] = await Promise.all([bases.sft, bases.rl, bases.target].map(async (b) => openCheckpoint(await memorySource(b))));
  const plan = planMerge({ sft, rl, target }, { mode: 'merge' });
  const time = async (make: () => TensorMerger) => {
    const runs: number[] = [];
    let peak = 0;
    for (let i = 0; i < repeats; i++) {
      const merger = make();
      const out = memoryOutputFolder({ discard: true });
      const t0 = performance.now();
      const report = await runMerge({ plan, merger, alpha: 0.5, out });
      runs.push((performance.now() - t0) / 1000);
      peak = Math.max(peak, report.peakBufferedBytes);
      merger.destroy();
    }
    return { seconds: Math.min(...runs), runs, peakBufferedBytes: peak };
  };
  const gpu = await time(() => new GpuTensorMerger(device));
  const cpu = await time(() => new CpuTensorMerger());
  return {
    adapter: [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' / '),
    outputBytes: plan.totalBytes,
    largestTensorBytes: plan.largestTensorBytes,
    gpu,
    cpu,
  };
};
document.getElementById('status')!.textContent = 'ready';
