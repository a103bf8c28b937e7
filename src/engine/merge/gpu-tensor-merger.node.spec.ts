import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DawnChildMerger, NoGpuAdapterError } from '../../cli/gpu-child/dawn-child-merger.ts';
import { SWIFTSHADER_ICD } from '../../../test-support/dawn-adapter.ts';
import { encode, referenceMerge, referenceStats, seededValues, stored } from '../../../test-support/merge-reference.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';

/**
 * The WGSL merge kernel in Node through Dawn, as the CLI runs it: GpuTensorMerger inside the
 * CLI's Dawn child process (DawnChildMerger), bit for bit against the reference. On a machine
 * without a GPU it runs on SwiftShader (chromium's Vulkan driver, allowed as a fallback adapter
 * here); it is skipped only when Dawn answers that there is no adapter at all. A crash, a hang
 * (the child's watchdog) or wrong bits fail the test.
 *
 * These used to die in about half the runs (futex abort, segfault, hang): dawn.node freed its
 * instance when the `GPU` object was garbage-collected; node-gpu.ts now holds it.
 */
let merger: DawnChildMerger | undefined;
let noAdapter: string | undefined;
const savedIcd = process.env.VK_ICD_FILENAMES;

beforeAll(async () => {
  // The machine's own GPU first; SwiftShader (found only when pointed at) where Dawn has none.
  for (const icd of [savedIcd, SWIFTSHADER_ICD]) {
    if (icd === undefined) delete process.env.VK_ICD_FILENAMES;
    else process.env.VK_ICD_FILENAMES = icd;
    try {
      merger = await DawnChildMerger.open({ allowFallback: true });
      noAdapter = undefined;
      return;
    } catch (e) {
      if (!(e instanceof NoGpuAdapterError)) throw e;
      noAdapter = `${noAdapter ? `${noAdapter}; ` : ''}${icd ?? 'system drivers'}: ${e.message}`;
    }
  }
}, 120_000);
afterAll(() => {
  merger?.destroy();
  if (savedIcd === undefined) delete process.env.VK_ICD_FILENAMES;
  else process.env.VK_ICD_FILENAMES = savedIcd;
});

const DTYPES: SupportedDtype[] = ['BF16', 'F16', 'F32'];

describe('GpuTensorMerger in Node (Dawn, in the CLI\'s child process)', () => {
  const need = (ctx: { skip(note: string): void }) => {
    if (noAdapter) ctx.skip(`Dawn answered that there is no adapter (${noAdapter})`);
    return merger!;
  };

  for (const [k, inD] of DTYPES.entries()) {
    const outD = DTYPES[(k + 1) % 3];
    const n = [1023, 257, 3][k];
    const alpha = [0.5, -1, 2][k];
    it(`${inD} → ${outD}, ${n} elements, α = ${alpha}: bit-exact against the reference, statistics too`, { timeout: 30_000 }, async (ctx) => {
      const m = need(ctx);
      const [t, s, r] = [10, 20, 30].map((seed) => stored(seededValues(n, seed + k, 0.2), inD));
      const res = await m.mergeChunk({
        target: { dtype: inD, bytes: encode(t, inD) },
        sft: { dtype: inD, bytes: encode(s, inD) },
        rl: { dtype: inD, bytes: encode(r, inD) },
        count: n,
        alpha,
        outDtype: outD,
        label: `node dawn ${inD}`,
        stats: true,
      });
      expect(Buffer.from(res.bytes).equals(Buffer.from(referenceMerge(t, s, r, alpha, outD)))).toBe(true);
      expect([res.nan, res.inf]).toEqual([0, 0]);
      const want = referenceStats(t, s, r);
      expect(res.stats!.count).toBe(n);
      expect(res.stats!.nearZero).toBe(want.nearZero);
      for (const key of ['sumV2', 'sumT2', 'sumVD', 'sumD2'] as const) expect(res.stats![key]).toBeCloseTo(want[key], 5);
    });
  }

  it('two chunks in flight, vector mode (no target) and a statistics-only pass', { timeout: 30_000 }, async (ctx) => {
    const m = need(ctx);
    const n = 4097;
    const [s, r] = [41, 42].map((seed) => stored(seededValues(n, seed, 0.5), 'BF16'));
    const input = { sft: { dtype: 'BF16' as const, bytes: encode(s, 'BF16') }, rl: { dtype: 'BF16' as const, bytes: encode(r, 'BF16') }, count: n, alpha: 1, outDtype: 'F32' as const, label: 'v' };
    const [vector, statsOnly] = await Promise.all([m.mergeChunk(input), m.mergeChunk({ ...input, stats: true, output: false })]);
    expect(Buffer.from(vector.bytes).equals(Buffer.from(referenceMerge(undefined, s, r, 1, 'F32')))).toBe(true);
    expect(statsOnly.bytes.byteLength).toBe(0);
    expect(statsOnly.stats!.sumV2).toBeCloseTo(referenceStats(undefined, s, r).sumV2, 5);
  });

  it('NaN and Inf results are counted and written canonical', { timeout: 30_000 }, async (ctx) => {
    const m = need(ctx);
    const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
    const res = await m.mergeChunk({
      target: { dtype: 'F32', bytes: f32([NaN, 3e38, 1]) },
      sft: { dtype: 'F32', bytes: f32([0, -3e38, 0]) },
      rl: { dtype: 'F32', bytes: f32([1, 3e38, 2]) },
      count: 3,
      alpha: 1,
      outDtype: 'BF16',
      label: 'non-finite',
    });
    expect([res.nan, res.inf]).toEqual([1, 1]);
    expect([...new Uint16Array(res.bytes.slice().buffer)]).toEqual([0x7fc0, 0x7f80, 0x4040]);
  });
});
