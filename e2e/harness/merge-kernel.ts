// Test harness page: runs the engine's WGSL merge on the page's GPUDevice for cases sent by
// the Playwright test, which checks the bytes against its own CPU reference.
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { GpuTensorMerger } from '../../src/engine/merge/gpu-tensor-merger.ts';
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

async function run(c: HarnessCase) {
  const { device } = await gpu;
  const errors: string[] = [];
  const merger = new GpuTensorMerger(device, c.chunkElements);
  const bytes = (vals: number[]) => new Uint8Array(vals);
  const t = bytes(c.target);
  const s = bytes(c.sft);
  const r = bytes(c.rl);
  const out: number[] = [];
  let nan = 0;
  let inf = 0;
  try {
    for (let start = 0; start < c.count; start += merger.chunkElements) {
      const end = Math.min(c.count, start + merger.chunkElements);
      const cut = (b: Uint8Array, d: SupportedDtype) => b.subarray(start * SIZE[d], end * SIZE[d]);
      device.pushErrorScope('validation');
      const res = await merger.mergeChunk({
        target: c.vector ? undefined : { dtype: c.dtypes.target, bytes: cut(t, c.dtypes.target) },
        sft: { dtype: c.dtypes.sft, bytes: cut(s, c.dtypes.sft) },
        rl: { dtype: c.dtypes.rl, bytes: cut(r, c.dtypes.rl) },
        count: end - start,
        alpha: c.alpha,
        outDtype: c.outDtype,
        label: `case chunk ${start}`,
      });
      const err = await device.popErrorScope();
      if (err) errors.push(err.message);
      out.push(...res.bytes);
      nan += res.nan;
      inf += res.inf;
    }
  } finally {
    merger.destroy();
  }
  return { bytes: out, nan, inf, errors };
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
document.getElementById('status')!.textContent = 'ready';
