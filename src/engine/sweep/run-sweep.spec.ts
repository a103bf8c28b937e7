import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { rejection } from '../../../test-support/rejection.ts';
import { openCheckpoint, type Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { PLAIN, demoArith, demoArithRows, getTask } from '../eval/index.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { planMerge } from '../merge/merge-plan.ts';
import { OrtRuntime, type Ort } from '../model/ort-runtime.ts';
import { StudioTokenizer } from '../model/tokenizer.ts';
import { checkpointWeightsF32, mergedWeightsF32 } from '../model/weights.ts';
import { decoderSpec } from '../model/decoder-graph.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { controlTensor } from './control-vector.ts';
import { HostSweepBackend, type SweepBackend } from './host-sweep-backend.ts';
import { validateResultsDocument } from './results-document.ts';
import { SweepCancelledError, itemKey, runSweep, sweepConfigKey, type FinishedItem, type SweepInput } from './run-sweep.ts';

let fx: FixtureDir;
let trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint };
let runtime: OrtRuntime;
let backend: HostSweepBackend;

const items = demoArithRows().map((doc, index) => ({ index, doc })).filter((_, i) => i % 5 === 0); // 20 items
const input = (over: Partial<SweepInput> = {}): SweepInput => ({
  sources: { sft: { spec: 'sft', revision: null }, rl: { spec: 'rl', revision: null }, target: { spec: 'target', revision: null } },
  alphas: [-1, 0, 1],
  tasks: [{ task: demoArith, items, conditions: [PLAIN], selection: { mode: 'first-n', count: null, seed: null }, data: { source: 'built-in (studio/demo_arith)', revision: null, rows: 100 } }],
  generation: { batchSize: 8, maxNewTokens: null },
  controls: { donors: true, randomVectorSeed: 3 },
  ...over,
});
/** The backend, counting the points it is asked to set. */
const counting = (b: SweepBackend) => {
  const uses: string[] = [];
  const wrapped: SweepBackend = { model: b.model, tokenizer: b.tokenizer, description: b.description, use: (s, a, sig) => (uses.push(`${s} ${a}`), b.use(s, a, sig)), dispose: () => b.dispose() };
  return { wrapped, uses };
};

beforeAll(async () => {
  fx = makeFixtureDir('studio-sweep-run-', { demo: true });
  const open = async (n: string) => openCheckpoint(await localFolderSource(fx.model(n)));
  trio = { sft: await open('demo-arith-sft'), rl: await open('demo-arith-rl'), target: await open('demo-arith-target') };
  runtime = new OrtRuntime({ ort: (await import('onnxruntime-web')) as unknown as Ort, provider: 'wasm' });
  backend = await HostSweepBackend.open({ trio, runtime, tokenizer: await StudioTokenizer.load(trio.target), controlSeed: 3 });
}, 120_000);
afterAll(async () => {
  await backend?.dispose();
  await runtime?.dispose();
  fx?.cleanup();
});

describe('HostSweepBackend', () => {
  it('sets θ(α) bit for bit as the merge executor computes it, and the donors as stored', async () => {
    const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
    for (const alpha of [-1, 0.3, 1]) {
      await backend.use('v', alpha);
      const expected = await mergedWeightsF32(plan, new CpuTensorMerger(), alpha);
      for (const [name, a] of expected) expect(Buffer.from(backend.weights.get(name)!.buffer).equals(Buffer.from(a.buffer)), `${name} at α ${alpha}`).toBe(true);
    }
    const spec = decoderSpec(trio.target.config, new Map([...trio.target.tensors].map(([n, t]) => [n, t.shape])), 'target');
    await backend.use('rl', null);
    const rl = await checkpointWeightsF32(trio.rl, spec);
    for (const w of spec.weights) expect(Buffer.from(backend.weights.get(w.name)!.buffer).equals(Buffer.from(rl.get(w.name)!.buffer))).toBe(true);
  });

  it('merges the control vector as θ_target + α·control, with v\'s norm in every tensor', async () => {
    const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
    const target = await mergedWeightsF32(plan, new CpuTensorMerger(), 0);
    const plusV = await mergedWeightsF32(plan, new CpuTensorMerger(), 1);
    await backend.use('control', 1);
    for (const t of plan.tensors) {
      const theta = backend.weights.get(t.name)!;
      const base = target.get(t.name)!;
      let v2 = 0;
      let c2 = 0;
      for (let i = 0; i < t.elements; i++) {
        const v = plusV.get(t.name)![i] - base[i];
        v2 += v * v;
        c2 += (theta[i] - base[i]) ** 2;
      }
      // θ − θ_target carries float32 rounding of the sum: norms agree to ~1e-6 of the norm.
      expect(Math.sqrt(c2)).toBeCloseTo(Math.sqrt(v2), 4);
    }
  });
});

describe('controlTensor', () => {
  it('has the vector\'s L2 norm, depends on the seed and the tensor name, and is zero where v is', () => {
    const v = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 0.01);
    const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    const c = controlTensor(7, 'model.layers.0.mlp.up_proj.weight', v);
    expect(norm(c)).toBeCloseTo(norm(v), 6);
    expect(controlTensor(7, 'model.layers.0.mlp.up_proj.weight', v)).toEqual(c);
    expect(controlTensor(8, 'model.layers.0.mlp.up_proj.weight', v)).not.toEqual(c);
    expect(controlTensor(7, 'model.layers.1.mlp.up_proj.weight', v)).not.toEqual(c);
    expect(controlTensor(7, 'x', new Float32Array(5))).toEqual(new Float32Array(5));
    // Gaussian draws: mean near 0, about a third of them beyond one standard deviation.
    const big = controlTensor(1, 't', new Float32Array(20000).fill(1));
    const sd = norm(big) / Math.sqrt(big.length);
    expect(Math.abs(big.reduce((s, x) => s + x, 0) / big.length)).toBeLessThan(0.03 * sd);
    expect(big.filter((x) => Math.abs(x) > sd).length / big.length).toBeCloseTo(0.317, 1);
  });
});

describe('runSweep', () => {
  it('reports every item once, in points that validate; target and control at α 0 are v\'s α 0', async () => {
    const seen: FinishedItem[] = [];
    const progress: number[] = [];
    const doc = await runSweep(backend, input(), { onItem: (i) => void seen.push(i), onProgress: (p) => progress.push(p.done), samples: true });
    // v at 3 α, control at 2 (α 0 is v's), SFT and RL: 7 points of 20 items.
    expect(seen).toHaveLength(7 * 20);
    expect(new Set(seen.map(itemKey)).size).toBe(140);
    expect(progress.at(-1)).toBe(140);
    validateResultsDocument(doc, { allowSamples: true });
    const at = (series: string, alpha: number | null) => doc.points.find((p) => p.series === series && p.alpha === alpha)!;
    expect(at('target', null).correct).toBe(at('v', 0).correct);
    expect(at('control', 0).correct).toBe(at('v', 0).correct);
    expect(at('target', null).verdicts).toBe(at('v', 0).verdicts);
    expect(doc.points.map((p) => `${p.series} ${p.alpha}`)).toEqual(['v -1', 'v 0', 'v 1', 'control -1', 'control 0', 'control 1', 'sft null', 'rl null', 'target null']);
    expect(doc.samples).toHaveLength(140);
    // Each point's count is the sum of its items' verdicts.
    for (const p of doc.points.filter((q) => q.series === 'v' || q.series === 'sft')) {
      expect(p.correct).toBe(seen.filter((i) => i.series === p.series && i.alpha === p.alpha).reduce((a, i) => a + i.metrics.acc, 0));
    }
  });

  it('resumes: finished items are not recomputed, points already complete are not even re-merged, and the result is the same', async () => {
    const all: FinishedItem[] = [];
    const full = await runSweep(backend, input(), { onItem: (i) => void all.push(i) });
    // Keep v entirely and half of everything else, as a crash would leave them.
    const kept = all.filter((i, k) => i.series === 'v' || k % 2 === 0);
    const { wrapped, uses } = counting(backend);
    const recomputed: FinishedItem[] = [];
    const resumed = await runSweep(wrapped, input(), { resume: kept, onItem: (i) => void recomputed.push(i) });
    expect(recomputed).toHaveLength(all.length - kept.length);
    expect(recomputed.some((i) => kept.some((k) => itemKey(k) === itemKey(i)))).toBe(false);
    expect(uses).toEqual(['control -1', 'control 1', 'sft null', 'rl null']);
    expect(resumed.points).toEqual(full.points);
    // Nothing left: nothing is merged or run.
    const { wrapped: idle, uses: none } = counting(backend);
    expect((await runSweep(idle, input(), { resume: all })).points).toEqual(full.points);
    expect(none).toEqual([]);
  });

  it('cancels between batches with SweepCancelledError; every finished item was reported', async () => {
    const ctl = new AbortController();
    const seen: FinishedItem[] = [];
    const e = await rejection(runSweep(backend, input(), { signal: ctl.signal, onItem: (i) => void (seen.push(i), seen.length === 12 && ctl.abort()) }));
    expect(e).toBeInstanceOf(SweepCancelledError);
    // Aborted at item 12, inside the second batch of 8: that batch's items finish, no third batch starts.
    expect(seen).toHaveLength(16);
  });

  it('keys a configuration by everything that changes its results', () => {
    expect(sweepConfigKey(input())).toBe(sweepConfigKey(input()));
    expect(sweepConfigKey(input({ alphas: [-1, 0, 0.5, 1] }))).not.toBe(sweepConfigKey(input()));
    expect(sweepConfigKey(input({ controls: { donors: true, randomVectorSeed: 4 } }))).not.toBe(sweepConfigKey(input()));
    expect(getTask('demo_arith').metricKeys).toEqual(['acc']);
  });
});
