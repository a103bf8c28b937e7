// Test harness page: runs the engine's WGSL merge on the page's GPUDevice for cases sent by
// the Playwright test, which checks the bytes against its own CPU reference.
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { GpuTensorMerger } from '../../src/engine/merge/gpu-tensor-merger.ts';
import { addStats, emptyStats, type TensorMerger } from '../../src/engine/merge/tensor-merger.ts';
import type { SupportedDtype } from '../../src/engine/safetensors/dtypes.ts';

export interface HarnessCase {
  dtypes: { target: SupportedDtype; sft: SupportedDtype; rl: SupportedDtype };
  outDtype: SupportedDtype;
  alpha: number;
  count: number;
  chunkElements: number;
  vector: boolean;
  target: number[];
  sft: number[];
  rl: number[];
}

const SIZE: Record<SupportedDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const gpu = requestGpu();

/** One case through a merger, chunk by chunk as the streaming merge feeds it; the merger is destroyed after. */
async function mergeCase(merger: TensorMerger, c: HarnessCase, o: { stats?: boolean; output?: boolean } = {}) {
  const [t, s, r] = [c.target, c.sft, c.rl].map((v) => new Uint8Array(v));
  const out: number[] = [];
  const stats = emptyStats();
  let nan = 0;
  let inf = 0;
  try {
    for (let start = 0; start < c.count; start += c.chunkElements) {
      const end = Math.min(c.count, start + c.chunkElements);
      const cut = (b: Uint8Array, d: SupportedDtype) => b.subarray(start * SIZE[d], end * SIZE[d]);
      const res = await merger.mergeChunk({
        target: c.vector ? undefined : { dtype: c.dtypes.target, bytes: cut(t, c.dtypes.target) },
        sft: { dtype: c.dtypes.sft, bytes: cut(s, c.dtypes.sft) },
        rl: { dtype: c.dtypes.rl, bytes: cut(r, c.dtypes.rl) },
        count: end - start,
        alpha: c.alpha,
        outDtype: c.outDtype,
        label: `case chunk ${start}`,
        stats: o.stats,
        output: o.output,
      });
      for (const byte of res.bytes) out.push(byte);
      nan += res.nan;
      inf += res.inf;
      if (res.stats) addStats(stats, res.stats);
    }
  } finally {
    merger.destroy();
  }
  return { bytes: out, nan, inf, stats };
}

/** A case on the GPU, failing on any WebGPU validation error. */
async function run(c: HarnessCase) {
  const { device } = await gpu;
  device.pushErrorScope('validation');
  const res = await mergeCase(new GpuTensorMerger(device, c.chunkElements), c);
  const err = await device.popErrorScope();
  return { bytes: res.bytes, nan: res.nan, inf: res.inf, errors: err ? [err.message] : [] };
}

(window as unknown as { runMergeCases: unknown }).runMergeCases = async (cases: HarnessCase[]) => {
  const results = [];
  for (const c of cases) results.push(await run(c));
  return results;
};
/** 40M bf16 elements (f32 output 160 MB > the 128 MiB default binding): out = 1 + 0.5·(2 − 1) = 1.5. */
(window as unknown as { runBigTensorCheck: unknown }).runBigTensorCheck = async () => {
  const { device } = await gpu;
  const merger = new GpuTensorMerger(device);
  const n = 40 * 1024 * 1024;
  const one = new Uint16Array(merger.chunkElements).fill(0x3f80); // bf16 1.0
  const two = new Uint16Array(merger.chunkElements).fill(0x4000); // bf16 2.0
  let wrong = 0;
  let chunks = 0;
  try {
    for (let start = 0; start < n; start += merger.chunkElements) {
      const count = Math.min(merger.chunkElements, n - start);
      const b = (u: Uint16Array) => ({ dtype: 'BF16' as const, bytes: new Uint8Array(u.buffer, 0, count * 2) });
      const res = await merger.mergeChunk({ target: b(one), sft: b(one), rl: b(two), count, alpha: 0.5, outDtype: 'F32', label: `big chunk ${chunks}` });
      const f = new Float32Array(res.bytes.buffer, res.bytes.byteOffset, count);
      for (let i = 0; i < count; i++) if (f[i] !== 1.5) wrong++;
      chunks++;
    }
  } finally {
    merger.destroy();
  }
  return { wrong, chunks, chunkElements: merger.chunkElements };
};
/**
 * The same chunks through the GPU and the CPU merger, with statistics: returns both outputs and
 * both sets of sums so the test can require identical bytes and close statistics.
 */
(window as unknown as { runCrossCheck: unknown }).runCrossCheck = async (c: HarnessCase & { statsOnly?: boolean }) => {
  const { device } = await gpu;
  device.pushErrorScope('validation');
  const both = { stats: true, output: !c.statsOnly };
  const gpuRes = await mergeCase(new GpuTensorMerger(device, c.chunkElements), c, both);
  const err = await device.popErrorScope();
  const cpuRes = await mergeCase(new CpuTensorMerger(c.chunkElements), c, both);
  return { gpu: gpuRes, cpu: cpuRes, errors: err ? [err.message] : [] };
};
/**
 * Statistics over `n` bf16 elements made in the page (too many to send from the test): one chunk,
 * so the stats kernel's grid-stride loop runs; GPU sums against the CPU path's float64 sums.
 */
(window as unknown as { runBigStatsCheck: unknown }).runBigStatsCheck = async (n: number) => {
  const { device } = await gpu;
  let x = 12345;
  const rnd = () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32 - 0.5;
  const bf16 = (v: number) => (new Uint32Array(new Float32Array([v]).buffer)[0] + 0x8000) >>> 16;
  const t = new Uint16Array(n), s = new Uint16Array(n), r = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = bf16(rnd() * 0.1);
    s[i] = bf16(rnd() * 0.1);
    r[i] = i % 7 === 0 ? s[i] : bf16(new Float32Array(new Uint32Array([s[i] << 16]).buffer)[0] + rnd() * 0.004);
  }
  const input = (u: Uint16Array) => ({ dtype: 'BF16' as const, bytes: new Uint8Array(u.buffer) });
  const chunk = { target: input(t), sft: input(s), rl: input(r), count: n, alpha: 1, outDtype: 'BF16' as const, label: 'big stats', stats: true, output: false };
  device.pushErrorScope('validation');
  const g = new GpuTensorMerger(device, n);
  const gpuStats = (await g.mergeChunk(chunk)).stats!;
  g.destroy();
  const err = await device.popErrorScope();
  const cpuStats = (await new CpuTensorMerger(n).mergeChunk(chunk)).stats!;
  return { gpu: gpuStats, cpu: cpuStats, errors: err ? [err.message] : [] };
};
/** A device destroyed mid-merge (what a driver reset looks like to the page): the error a user sees. */
(window as unknown as { runDeviceLostCheck: unknown }).runDeviceLostCheck = async () => {
  const { device } = await requestGpu();
  const merger = new GpuTensorMerger(device, 1 << 20);
  const ones = new Uint16Array(1 << 20).fill(0x3f80);
  const input = { dtype: 'BF16' as const, bytes: new Uint8Array(ones.buffer) };
  const chunk = { target: input, sft: input, rl: input, count: 1 << 20, alpha: 1, outDtype: 'BF16' as const, label: 'model.layers.0.mlp.up_proj.weight' };
  await merger.mergeChunk(chunk);
  const pending = merger.mergeChunk(chunk);
  device.destroy();
  const messages: string[] = [];
  for (const p of [pending, merger.mergeChunk(chunk)]) {
    try {
      await p;
      messages.push('resolved');
    } catch (e) {
      messages.push(`${(e as Error).constructor.name}: ${(e as Error).message}`);
    }
  }
  return messages;
};
document.getElementById('status')!.textContent = 'ready';
