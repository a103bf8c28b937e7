/**
 * npm run bench:sweep — the α sweep's wall time against a naive loop on the same grid, measured
 * in one run (Node, onnxruntime-web's WASM provider, 1 thread), on the demo trio and its task
 * (100 items × 10 one-token choices): the v series over the grid, the control over the same grid
 * and the donors alone.
 *  - sweep: `runSweep` on one HostSweepBackend — the trio read once, each α one pass over host
 *    memory, one DecoderModel whose weights are swapped with setWeights, items batched (8) with
 *    each item's ten choices sharing one pass over the context;
 *  - naive: for every α, θ(α) merged again from the files and a new model (session) built, then
 *    every (context, choice) pair scored on its own (batch 1, no prefix sharing);
 *  - the weight feed of the sweep's model: `embedded` (baked into a new session per α) against
 *    `inputs` (fed on every run, no rebuild), on the demo trio and on two bigger synthetic trios —
 *    the numbers behind hostFeedFor (host-sweep-backend.ts).
 * Both loops must find the same counts; the script says whether they did.
 * Options: --alphas a,b,c (default the sweep's default grid), --limit N (items, default 100).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import { PLAIN, demoArith, demoArithRows, numpyArgmax } from '../src/engine/eval/index.ts';
import { encodePair } from '../src/engine/eval/run/run-task.ts';
import { CpuTensorMerger } from '../src/engine/merge/cpu-tensor-merger.ts';
import { executeMerge } from '../src/engine/merge/merge-executor.ts';
import { planMerge, type MergePlan } from '../src/engine/merge/merge-plan.ts';
import { decoderSpec } from '../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../src/engine/model/decoder-model.ts';
import { OrtRuntime, type Ort } from '../src/engine/model/ort-runtime.ts';
import { StudioTokenizer } from '../src/engine/model/tokenizer.ts';
import { checkpointWeightsF32, mergedWeightsF32 } from '../src/engine/model/weights.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { controlTensor } from '../src/engine/sweep/control-vector.ts';
import { HostSweepBackend, type HostWeightFeed } from '../src/engine/sweep/host-sweep-backend.ts';
import { DEFAULT_ALPHAS, normalizeAlphas } from '../src/engine/sweep/alpha-grid.ts';
import { runSweep, type SweepInput } from '../src/engine/sweep/run-sweep.ts';
import { pointKey, type SweepPoint } from '../src/engine/sweep/results-document.ts';
import { makeFixtures } from './make-fixtures.ts';
import { BENCH_SHAPES, ensureBenchTrio } from './bench/bench-trio.ts';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const { values } = parseArgs({ options: { alphas: { type: 'string' }, limit: { type: 'string' } } });
const alphas = normalizeAlphas(values.alphas ? values.alphas.split(',').map(Number) : DEFAULT_ALPHAS);
const limit = Number(values.limit ?? 100);
const CONTROL_SEED = 0;

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
let models = join(root, 'fixtures', 'models');
let cleanup = () => {};
if (!existsSync(join(models, 'demo-arith-target', 'model.safetensors'))) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sweep-'));
  makeFixtures(dir, { demo: true });
  models = join(dir, 'models');
  cleanup = () => rmSync(dir, { recursive: true, force: true });
}
const open = async (name: string) => openCheckpoint(await localFolderSource(join(models, name)));
const trio = { sft: await open('demo-arith-sft'), rl: await open('demo-arith-rl'), target: await open('demo-arith-target') };
const tokenizer = await StudioTokenizer.load(trio.target);
const ort = (await import('onnxruntime-web')) as unknown as Ort;
const items = demoArithRows()
  .slice(0, limit)
  .map((doc, index) => ({ index, doc }));
const input: SweepInput = {
  sources: { sft: { spec: 'demo-arith-sft', revision: null }, rl: { spec: 'demo-arith-rl', revision: null }, target: { spec: 'demo-arith-target', revision: null } },
  alphas,
  tasks: [{ task: demoArith, items, conditions: [PLAIN], selection: { mode: 'first-n', count: limit, seed: null }, data: { source: 'built-in', revision: null, rows: 100 } }],
  generation: { batchSize: 8, maxNewTokens: null },
  controls: { donors: true, randomVectorSeed: CONTROL_SEED },
};

async function sweepOnce(feed: HostWeightFeed) {
  const runtime = new OrtRuntime({ ort, provider: 'wasm' });
  const t0 = performance.now();
  const backend = await HostSweepBackend.open({ trio, runtime, tokenizer, controlSeed: CONTROL_SEED, feed });
  const doc = await runSweep(backend, input);
  const seconds = (performance.now() - t0) / 1000;
  await backend.dispose();
  await runtime.dispose();
  return { seconds, points: doc.points };
}

/** The loop a first implementation would write: re-merge from the files and a new session per point, one request at a time. */
async function naive() {
  const t0 = performance.now();
  const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
  const spec = decoderSpec(trio.target.config, new Map([...trio.target.tensors].map(([n, t]) => [n, t.shape])), 'target');
  const points: SweepPoint[] = [];
  const measure = async (weights: Map<string, Float32Array>) => {
    const runtime = new OrtRuntime({ ort, provider: 'wasm' });
    const model = new DecoderModel(runtime, trio.target.config, spec, { kind: 'embedded', arrays: weights });
    let correct = 0;
    for (const { doc } of items) {
      const r = demoArith.buildRequests(demoArith.readDoc(doc, 'row'), PLAIN);
      const context = r.context.kind === 'text' ? r.context.text : '';
      const lls: number[] = [];
      for (const c of r.continuations) {
        const p = encodePair(tokenizer, context, c, spec.maxSequence);
        const [res] = await model.loglikelihood([{ context: p.contextIds, continuation: p.continuationIds }], { batchSize: 1 });
        lls.push(res.loglikelihood);
      }
      if (numpyArgmax(lls) === demoArith.gold(demoArith.readDoc(doc, 'row'))) correct++;
    }
    await model.dispose();
    await runtime.dispose();
    return correct;
  };
  const point = (series: SweepPoint['series'], alpha: number | null, correct: number): SweepPoint => ({ series, alpha, task: 'demo_arith', condition: 'plain', metric: 'acc', correct, total: items.length });
  for (const alpha of alphas) points.push(point('v', alpha, await measure(await mergedWeightsF32(plan, new CpuTensorMerger(), alpha))));
  for (const alpha of alphas) {
    // θ_target + α·control, with the target and v read from the files again for every point.
    const target = await mergedWeightsF32(plan, new CpuTensorMerger(), 0);
    const v = await vectorF32(plan);
    const a = Math.fround(alpha);
    for (const [name, d] of v) {
      const c = controlTensor(CONTROL_SEED, name, d);
      const out = target.get(name)!;
      for (let i = 0; i < c.length; i++) out[i] = out[i] + Math.fround(a * c[i]);
    }
    points.push(point('control', alpha, await measure(target)));
  }
  points.push(point('sft', null, await measure(await checkpointWeightsF32(trio.sft, spec))));
  points.push(point('rl', null, await measure(await checkpointWeightsF32(trio.rl, spec))));
  return { seconds: (performance.now() - t0) / 1000, points };
}

/** v = θ_RL − θ_SFT in float32 for each tensor's merged part, through the executor's vector pass. */
async function vectorF32(plan: MergePlan): Promise<Map<string, Float32Array>> {
  const out = new Map(plan.tensors.filter((t) => t.mergedElements > 0).map((t) => [t.name, new Float32Array(t.mergedElements)]));
  await executeMerge({
    tensors: plan.tensors,
    merger: new CpuTensorMerger(),
    compute: 'vector',
    alpha: 0,
    parts: { merged: true, kept: false },
    outDtype: () => 'F32',
    sink: { write: (c, bytes) => new Uint8Array(out.get(c.tensor.name)!.buffer).set(bytes, c.start * 4) },
  });
  return out;
}

const model = trio.target.config;
console.log(`demo trio: ${model.numLayers} layers, hidden ${model.hiddenSize}, vocab ${model.vocabSize}; demo_arith ${items.length} items × 10 choices; grid ${alphas.length} α (${alphas.join(', ')}); v, control and both donors`);
// Warm-up (not timed): the WASM module's first instantiation and compilation.
{
  const runtime = new OrtRuntime({ ort, provider: 'wasm' });
  const backend = await HostSweepBackend.open({ trio, runtime, tokenizer, controlSeed: null });
  await runSweep(backend, { ...input, alphas: [0], tasks: [{ ...input.tasks[0], items: items.slice(0, 2) }], controls: { donors: false, randomVectorSeed: null } });
  await backend.dispose();
  await runtime.dispose();
}
const embedded = await sweepOnce('embedded');
console.log(`sweep (feed embedded: one session build per α, batch 8, shared contexts): ${embedded.seconds.toFixed(2)} s`);
const inputs = await sweepOnce('inputs');
console.log(`sweep (feed inputs: no rebuild, weights copied into the WASM heap on every run): ${inputs.seconds.toFixed(2)} s`);
const n = await naive();
console.log(`naive loop (re-merge from the files + new session per point, batch 1, no prefix sharing): ${n.seconds.toFixed(2)} s`);
const best = Math.min(embedded.seconds, inputs.seconds);
console.log(`ratio naive / sweep: ${(n.seconds / embedded.seconds).toFixed(1)}× (embedded feed), ${(n.seconds / inputs.seconds).toFixed(1)}× (inputs feed); faster feed: ${best === embedded.seconds ? 'embedded' : 'inputs'}`);
const counts = (pts: SweepPoint[]) => new Map(pts.filter((p) => p.series !== 'target').map((p) => [pointKey(p), p.correct]));
const same = (a: SweepPoint[], b: SweepPoint[]) => {
  const ca = counts(a);
  const cb = counts(b);
  return ca.size === cb.size && [...ca].every(([k, v]) => cb.get(k) === v);
};
console.log(`same counts: sweep embedded = inputs: ${same(embedded.points, inputs.points) ? 'yes' : 'NO'}; sweep = naive: ${same(embedded.points, n.points) ? 'yes' : 'NO'}`);

/**
 * The feed on bigger models (the synthetic bench trios, no tokenizer needed): per α, the sweep's
 * pattern on the demo task — 100 items × 10 one-token choices, 8 contexts of 8 tokens per pass —
 * after a new θ: `embedded` rebuilds the session, `inputs` copies every weight into the WASM heap
 * on each of the 13 passes.
 */
async function feedPerAlpha(size: 'model' | 'small', feed: HostWeightFeed, reps: number): Promise<number> {
  const dirs = ensureBenchTrio(join(root, 'fixtures', 'bench'), size);
  const target = await openCheckpoint(await localFolderSource(dirs.target));
  const spec = decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), size);
  const weights = await checkpointWeightsF32(target, spec);
  const runtime = new OrtRuntime({ ort, provider: 'wasm' });
  const tensors = Object.fromEntries(spec.weights.map((w) => [w.name, new ort.Tensor('float32', weights.get(w.name)!, w.shape)]));
  const m = new DecoderModel(runtime, target.config, spec, feed === 'embedded' ? { kind: 'embedded', arrays: weights } : { kind: 'inputs', tensors });
  const requests = Array.from({ length: 100 }, (_, i) => Array.from({ length: 10 }, (_, c) => ({ context: Array.from({ length: 8 }, (_, k) => (i * 31 + k * 7) % spec.vocabSize), continuation: [(c * 13) % spec.vocabSize] }))).flat();
  await m.loglikelihood(requests.slice(0, 10), { batchSize: 8 }); // session built before timing
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    if (feed === 'embedded') m.setWeights({ kind: 'embedded', arrays: weights }); // a new θ: new session
    await m.loglikelihood(requests, { batchSize: 8 });
  }
  const perAlpha = (performance.now() - t0) / 1000 / reps;
  await m.dispose();
  await runtime.dispose();
  return perAlpha;
}
for (const size of ['model', 'small'] as const) {
  const e = await feedPerAlpha(size, 'embedded', 3);
  const i = await feedPerAlpha(size, 'inputs', 3);
  const p = BENCH_SHAPES[size];
  console.log(`feed per α, bench trio "${size}" (hidden ${p.hiddenSize}, ${p.numLayers} layers, vocab ${p.vocabSize}), 100 items × 10 choices: embedded ${e.toFixed(2)} s, inputs ${i.toFixed(2)} s → ${e < i ? 'embedded' : 'inputs'} ${(Math.max(e, i) / Math.min(e, i)).toFixed(1)}× faster`);
}
cleanup();
