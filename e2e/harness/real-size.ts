// Harness for e2e/real-size.spec.ts: weights split into row blocks when one GPU buffer may not hold
// them (forced small limits on the fixtures; a real default-limits device at Qwen2.5-0.5B width),
// and the error each 16-bit choice of the memory plan adds against the exact f32 merge.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint, type Checkpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import { CpuTensorMerger } from '../../src/engine/merge/cpu-tensor-merger.ts';
import { decodeToF32 } from '../../src/engine/merge/half-float.ts';
import { planMerge, type MergePlan } from '../../src/engine/merge/merge-plan.ts';
import { ResidentMerge, type VectorDtype } from '../../src/engine/merge/resident-merge.ts';
import { decoderSpec, splitWeights, weightInputs } from '../../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../../src/engine/model/decoder-model.ts';
import { LiveModel } from '../../src/engine/model/live-model.ts';
import { EXPLORING_VECTOR_DTYPES, f16StorageBound, thetaErrorBound } from '../../src/engine/model/memory-plan.ts';
import { OrtRuntime, type Ort } from '../../src/engine/model/ort-runtime.ts';
import { mergedWeightsF32 } from '../../src/engine/model/weights.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';
import { QWEN25_CONFIGS } from '../../test-support/model-shapes.ts';
import { randomQwen2Trio } from '../../test-support/random-checkpoint.ts';
import { referenceForward } from '../../test-support/reference-forward.ts';

type Trio = { sft: Checkpoint; rl: Checkpoint; target: Checkpoint };
const published = async (prefix: string): Promise<Trio> => {
  const open = async (n: string) => openCheckpoint(await httpFolderSource(`/demo/${prefix}-${n}/`, `${prefix}-${n}`));
  const [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map(open));
  return { sft, rl, target };
};
const ortWeb = ort as unknown as Ort;

/** θ(α) of each planned tensor as the GPU holds it: whole, or its row blocks read back and concatenated. */
async function readTensor(rm: ResidentMerge, name: string, elements: number, bytesPer: number): Promise<Uint8Array> {
  const blocks = rm.blocksOf(name);
  if (!blocks) return rm.readOutput(name);
  const all = new Uint8Array(elements * bytesPer);
  const { rowBlockName } = await import('../../src/engine/gpu/buffer-limits.ts');
  let at = 0;
  for (let i = 0; i < blocks.length; i++) {
    const part = await rm.readOutput(rowBlockName(name, i));
    all.set(part, at);
    at += part.length;
  }
  if (at !== all.length) throw new Error(`${name}: blocks hold ${at} bytes, the tensor ${all.length}`);
  return all;
}

const w = window as unknown as Record<string, unknown>;

/** Split resident merge (either strategy) against the unsplit resident one, bit for bit, after each α. */
w.runBlockMerge = async (o: { maxBufferBytes: number; budgetBytes: number; outDtype: 'F32' | 'F16'; alphas: number[] }) => {
  const { device } = await requestGpu();
  const trio = await published('tiny-qwen2');
  const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
  device.pushErrorScope('validation');
  // The unsplit reference is always resident; the split one uses the budget given (streaming when small).
  const whole = await ResidentMerge.create(device, plan, { budgetBytes: 1 << 30, outDtype: o.outDtype });
  const split = await ResidentMerge.create(device, plan, { budgetBytes: o.budgetBytes, outDtype: o.outDtype, maxBufferBytes: o.maxBufferBytes });
  const bytesPer = o.outDtype === 'F16' ? 2 : 4;
  const results = [];
  for (const alpha of o.alphas) {
    await whole.setAlpha(alpha);
    await split.setAlpha(alpha);
    let mismatchedBytes = 0;
    for (const t of plan.tensors) {
      const a = await whole.readOutput(t.name);
      const b = await readTensor(split, t.name, t.elements, bytesPer);
      if (a.length !== b.length) throw new Error(`${t.name}: ${a.length} vs ${b.length} bytes`);
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) mismatchedBytes++;
    }
    results.push({ alpha, mismatchedBytes });
  }
  const err = await device.popErrorScope();
  const out = {
    strategy: split.residency.strategy,
    wholeSplit: whole.residency.split.length,
    split: split.residency.split.map((s) => ({ name: s.name, blocks: s.blocks.length })),
    largestBufferBytes: split.residency.largestBufferBytes,
    buffers: split.outputs.size,
    results,
    errors: err ? [err.message] : [],
  };
  whole.destroy();
  split.destroy();
  return out;
};

/**
 * The page's LiveModel with forced small buffers (every linear weight in row blocks) against the
 * unsplit LiveModel on the same device, and both against the float64 reference of the exact
 * merge: logits of the real positions (a left-padded row's pad positions are never read) and
 * greedy tokens.
 */
w.runSplitGraph = async (o: { maxBufferBytes: number; alphas: number[]; prompts: number[][]; newTokens: number }) => {
  const trio = await published('demo-arith');
  const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
  const { device } = await requestGpu();
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const make = (maxBufferBytes?: number) => LiveModel.create({ trio, ort: ortWeb, device, compute: 'float32', residency: { budgetBytes: 1 << 30, maxBufferBytes } });
  const whole = await make();
  const split = await make(o.maxBufferBytes);
  const cfg = { ...trio.target.config };
  const V = cfg.vocabSize;
  const S = Math.max(...o.prompts.map((p) => p.length));
  const g = { maxNewTokens: o.newTokens, eosTokenIds: [] };
  const results = [];
  for (const alpha of o.alphas) {
    await whole.setAlpha(alpha);
    await split.setAlpha(alpha);
    const a = (await whole.model.forward(o.prompts)).data;
    const b = (await split.model.forward(o.prompts)).data;
    const tokens = (await split.generate(o.prompts, g)).map((r) => r.ids);
    const wholeTokens = (await whole.generate(o.prompts, g)).map((r) => r.ids);
    const exact = await mergedWeightsF32(plan, new CpuTensorMerger(), alpha);
    let maxDiff = 0;
    let refDiff = 0;
    let scale = 0;
    const reference: number[][] = [];
    o.prompts.forEach((p, row) => {
      referenceForward(cfg, exact, p).forEach((logits, t) =>
        logits.forEach((x, i) => {
          const at = (row * S + S - p.length + t) * V + i;
          maxDiff = Math.max(maxDiff, Math.abs(a[at] - b[at]));
          refDiff = Math.max(refDiff, Math.abs(b[at] - x));
          scale = Math.max(scale, Math.abs(x));
        }),
      );
      const seq = [...p];
      for (let k = 0; k < o.newTokens; k++) {
        const last = referenceForward(cfg, exact, seq).at(-1)!;
        seq.push(last.indexOf(Math.max(...last)));
      }
      reference.push(seq.slice(p.length));
    });
    results.push({ alpha, maxDiff, refDiff, scale, tokens, wholeTokens, reference });
  }
  const out = {
    split: split.residency!.split.map((s) => ({ name: s.name, blocks: s.blocks.length })),
    wholeSplit: whole.residency!.split.length,
    inputs: weightInputs(split.spec).length,
    tensors: split.spec.weights.length,
    results,
    errors,
  };
  await whole.dispose();
  await split.dispose();
  return out;
};

/** f32(v) of every merged tensor, from the donors' stored bytes. */
async function vectors(plan: MergePlan): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const t of plan.tensors) {
    if (!t.mergedElements) continue;
    const read = async (r: typeof t.sft) => decodeToF32(await r!.ckpt.readTensorBytes(r!.name, 0, t.mergedElements * (r!.dtype === 'F32' ? 4 : 2)), r!.dtype, t.mergedElements, new Float32Array(t.mergedElements));
    const [s, r] = [await read(t.sft), await read(t.rl)];
    out.set(t.name, r.map((x, i) => x - s[i]));
  }
  return out;
}

/**
 * θ(α) with v and θ in the given dtypes against the exact f32 merge: the largest error and its ratio
 * to the stated bound (memory-plan.ts), per α; and the change in logits of the model it runs
 * (f32 compute: SwiftShader has no shader-f16) against the same model with v in f32.
 */
w.runPrecision = async (o: { vectorDtype: VectorDtype; outDtype: 'F32' | 'F16'; alphas: number[]; prompts: number[][] }) => {
  const { device } = await requestGpu();
  const trio = await published('demo-arith');
  const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
  const v = await vectors(plan);
  const rm = await ResidentMerge.create(device, plan, { budgetBytes: 1 << 30, outDtype: o.outDtype, vectorDtype: o.vectorDtype });
  // Logits with v in this dtype against v in f32: a second resident θ(α) with v in f32, each read by its own decoder.
  const exactRm = o.outDtype === 'F32' ? await ResidentMerge.create(device, plan, { budgetBytes: 1 << 30, outDtype: 'F32', vectorDtype: 'F32' }) : undefined;
  const runtime = new OrtRuntime({ ort: ortWeb, provider: 'webgpu', device });
  const spec = decoderSpec(trio.target.config, new Map([...trio.target.tensors].map(([n, t]) => [n, t.shape])), trio.target.source.label);
  const decoderOf = (r: ResidentMerge) => {
    const outputs = r.outputs;
    const feed = Object.fromEntries(weightInputs(spec).map((i) => [i.name, ortWeb.Tensor.fromGpuBuffer(outputs.get(i.name)!.buffer, { dataType: 'float32', dims: i.shape })]));
    return new DecoderModel(runtime, trio.target.config, spec, { kind: 'inputs', tensors: feed });
  };
  const models = exactRm ? [decoderOf(rm), decoderOf(exactRm)] : [];
  const results = [];
  for (const alpha of o.alphas) {
    await rm.setAlpha(alpha);
    await exactRm?.setAlpha(alpha);
    const exact = await mergedWeightsF32(plan, new CpuTensorMerger(), alpha);
    let maxErr = 0;
    let worstRatio = 0;
    let maxAbsV = 0;
    for (const t of plan.tensors) {
      const got = await rm.readOutput(t.name);
      const g = decodeToF32(got, o.outDtype, t.elements, new Float32Array(t.elements));
      const want = exact.get(t.name)!;
      let err = 0;
      let maxTheta = 0;
      for (let i = 0; i < t.elements; i++) {
        err = Math.max(err, Math.abs(g[i] - want[i]));
        maxTheta = Math.max(maxTheta, Math.abs(want[i]));
      }
      let tv = 0;
      for (const x of v.get(t.name) ?? []) tv = Math.max(tv, Math.abs(x));
      maxAbsV = Math.max(maxAbsV, tv);
      const bound =
        o.vectorDtype === 'F32'
          ? o.outDtype === 'F16'
            ? f16StorageBound(maxTheta)
            : 0
          : thetaErrorBound({ vectorDtype: o.vectorDtype, outDtype: o.outDtype, alpha, maxAbsV: tv, maxAbsTheta: maxTheta });
      maxErr = Math.max(maxErr, err);
      worstRatio = Math.max(worstRatio, bound === 0 ? (err === 0 ? 0 : Infinity) : err / bound);
    }
    let logitChange: number | null = null;
    let logitScale = 0;
    if (models.length) {
      const [a, b] = [(await models[0].forward(o.prompts)).data, (await models[1].forward(o.prompts)).data];
      logitChange = 0;
      for (let i = 0; i < a.length; i++) {
        logitChange = Math.max(logitChange, Math.abs(a[i] - b[i]));
        logitScale = Math.max(logitScale, Math.abs(b[i]));
      }
    }
    results.push({ alpha, maxErr, worstRatio, maxAbsV, logitChange, logitScale });
  }
  const out = { residency: { vectorDtype: rm.residency.vectorDtype, outDtype: rm.residency.outDtype, bytes: rm.residency.bytes }, results };
  for (const m of models) await m.dispose();
  await runtime.dispose();
  rm.destroy();
  exactRm?.destroy();
  return out;
};

/**
 * A Qwen2.5-0.5B-shaped trio (real vocabulary, hidden and layer sizes; `layers` of its 24) on a
 * device created without requiredLimits: WebGPU's defaults, 256 MiB buffers and 128 MiB bindings,
 * where the 519 MiB f32 embedding cannot be one buffer.
 */
w.runRealSize = async (o: { layers: number; prompt: number[]; alphas: number[]; newTokens: number; budgetBytes: number }) => {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'default limits' });
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const t0 = performance.now();
  const config = { ...QWEN25_CONFIGS['0.5B'], num_hidden_layers: o.layers };
  const files = randomQwen2Trio(config, 7);
  const open = async (role: 'sft' | 'rl' | 'target') => openCheckpoint(files[role]);
  const trio = { sft: await open('sft'), rl: await open('rl'), target: await open('target') };
  const made = performance.now();
  const plan = planMerge(trio, { mode: 'merge', outDtype: 'F32' });
  const rm = await ResidentMerge.create(device, plan, { budgetBytes: o.budgetBytes, vectorDtype: EXPLORING_VECTOR_DTYPES });
  const filled = performance.now();
  const target = trio.target;
  const spec = splitWeights(decoderSpec(target.config, new Map([...target.tensors].map(([n, t]) => [n, t.shape])), target.source.label), (n) => rm.blocksOf(n));
  const outputs = rm.outputs;
  const feed = Object.fromEntries(weightInputs(spec).map((i) => [i.name, ortWeb.Tensor.fromGpuBuffer(outputs.get(i.name)!.buffer, { dataType: 'float32', dims: i.shape })]));
  const runtime = new OrtRuntime({ ort: ortWeb, provider: 'webgpu', device });
  const model = new DecoderModel(runtime, target.config, spec, { kind: 'inputs', tensors: feed });
  await model.prepare('last');
  await model.prepare('all');
  const sessions = performance.now();
  const results = [];
  for (const alpha of o.alphas) {
    const a0 = performance.now();
    await rm.setAlpha(alpha);
    const a1 = performance.now();
    // The graph runs at the first α only (a minute of SwiftShader per α); the merge is checked at every α.
    const runGraph = alpha === o.alphas[0];
    const gen = runGraph ? (await model.generate([o.prompt], { maxNewTokens: o.newTokens, eosTokenIds: [] }))[0] : undefined;
    const a2 = performance.now();
    const fwd = runGraph ? await model.forward([o.prompt]) : undefined;
    // The merge: every tensor's θ(α), blocks concatenated, against the CPU merger's bytes.
    const exact = await mergedWeightsF32(plan, new CpuTensorMerger(), alpha);
    let mismatched = 0;
    const weights = new Map<string, Float32Array>();
    for (const t of plan.tensors) {
      const got = new Float32Array((await readTensor(rm, t.name, t.elements, 4)).buffer);
      const want = exact.get(t.name)!;
      for (let i = 0; i < t.elements; i++) if (!Object.is(got[i], want[i])) mismatched++;
      weights.set(t.name, got);
      exact.delete(t.name);
    }
    if (!fwd || !gen) {
      results.push({ alpha, alphaMs: a1 - a0, mismatched });
      continue;
    }
    // The graph: logits of every position against the float64 reference on the same weights.
    const ref = referenceForward({ ...target.config }, weights, o.prompt);
    const V = target.config.vocabSize;
    let maxDiff = 0;
    let scale = 0;
    ref.forEach((row, p) => row.forEach((x, i) => ((maxDiff = Math.max(maxDiff, Math.abs(fwd.data[p * V + i] - x))), (scale = Math.max(scale, Math.abs(x))))));
    const greedy: number[] = [];
    const seq = [...o.prompt];
    for (let k = 0; k < o.newTokens; k++) {
      const last = k === 0 ? ref.at(-1)! : referenceForward({ ...target.config }, weights, seq).at(-1)!;
      let arg = 0;
      for (let i = 1; i < V; i++) if (last[i] > last[arg]) arg = i;
      seq.push(arg);
      greedy.push(arg);
    }
    results.push({ alpha, alphaMs: a1 - a0, generateMs: a2 - a1, generated: gen.ids, reference: greedy, mismatched, maxDiff, scale });
  }
  const out = {
    limits: { maxBufferSize: device.limits.maxBufferSize, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize },
    parameters: files.parameters,
    residency: { strategy: rm.residency.strategy, vectorDtype: rm.residency.vectorDtype, bytes: rm.residency.bytes, largestBufferBytes: rm.residency.largestBufferBytes, split: rm.residency.split.map((s) => ({ name: s.name, blocks: s.blocks.length })) },
    ms: { make: made - t0, fill: filled - made, sessions: sessions - filled },
    results,
    errors,
  };
  await model.dispose();
  await runtime.dispose();
  rm.destroy();
  device.destroy();
  return out;
};
document.getElementById('status')!.textContent = 'ready';
