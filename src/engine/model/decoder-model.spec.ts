import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { referenceForward, type RefConfig } from '../../../test-support/reference-forward.ts';
import { openCheckpoint, type Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../merge/cpu-tensor-merger.ts';
import { planMerge } from '../merge/merge-plan.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { decoderSpec } from './decoder-graph.ts';
import { DecoderModel } from './decoder-model.ts';
import { OrtRuntime, type Ort } from './ort-runtime.ts';
import { checkpointWeightsF32, mergedWeightsF32 } from './weights.ts';
import { encodeFromF32 } from '../merge/half-float.ts';

let fx: FixtureDir;
let ort: Ort;
let runtime: OrtRuntime;
beforeAll(async () => {
  fx = makeFixtureDir();
  ort = (await import('onnxruntime-web')) as unknown as Ort;
  runtime = new OrtRuntime({ ort, provider: 'wasm' });
});
afterAll(async () => {
  await runtime?.dispose();
  fx?.cleanup();
});

const open = async (name: string) => openCheckpoint(await localFolderSource(fx.model(name)));
const shapes = (c: Checkpoint) => new Map([...c.tensors].map(([n, t]) => [n, t.shape]));
const refConfig = (c: Checkpoint): RefConfig => ({ ...c.config });

/** Weights fed as inputs (the page's form) or baked in as initializers (the CLI's), alternately. */
let feedKind: 'inputs' | 'embedded' = 'inputs';
async function modelFor(ckpt: Checkpoint, weights?: Map<string, Float32Array>) {
  const spec = decoderSpec(ckpt.config, shapes(ckpt), ckpt.source.label);
  const w = weights ?? (await checkpointWeightsF32(ckpt, spec));
  feedKind = feedKind === 'inputs' ? 'embedded' : 'inputs';
  const feed =
    feedKind === 'inputs'
      ? { kind: 'inputs' as const, tensors: Object.fromEntries([...w].map(([n, a]) => [n, new ort.Tensor('float32', a, spec.weights.find((x) => x.name === n)!.shape)])) }
      : { kind: 'embedded' as const, arrays: w };
  return { model: new DecoderModel(runtime, ckpt.config, spec, feed), weights: w, feedKind };
}

/** Largest |a − b| over all positions and the vocabulary. */
function maxDiff(got: Float32Array, offset: number, want: Float64Array[], V: number): number {
  let m = 0;
  want.forEach((row, t) => row.forEach((v, i) => (m = Math.max(m, Math.abs(got[offset + t * V + i] - v)))));
  return m;
}

// Fixture logits are O(0.4); float32 ORT vs the float64 reference agree to ~1e-7, so 1e-5 is a tight bound.
const TOL = 1e-5;
const PROMPTS = [[283, 10, 20, 30, 40, 284], [5, 6, 7], [100, 200, 150, 3, 9, 12, 44, 1]];

describe('decoder graph (onnxruntime-web WASM in Node) against the reference forward pass', () => {
  for (const name of ['tiny-qwen2-target', 'tiny-qwen2-untied-target', 'tiny-qwen2-f32', 'tiny-qwen2-v5']) {
    it(`${name}: logits of every position within ${TOL}, batch 1, weights as inputs and embedded`, async () => {
      const ckpt = await open(name);
      for (let k = 0; k < 2; k++) {
        const { model, weights } = await modelFor(ckpt);
        for (const ids of PROMPTS) {
          const out = await model.forward([ids]);
          expect(out.dims).toEqual([1, ids.length, ckpt.config.vocabSize]);
          const want = referenceForward(refConfig(ckpt), weights, ids);
          expect(maxDiff(out.data, 0, want, ckpt.config.vocabSize)).toBeLessThan(TOL);
        }
        await model.dispose();
      }
    });
  }

  it('a left-padded batch: each row equals its own unpadded run', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model, weights } = await modelFor(ckpt);
    const V = ckpt.config.vocabSize;
    const out = await model.forward(PROMPTS);
    const S = Math.max(...PROMPTS.map((p) => p.length));
    PROMPTS.forEach((ids, b) => {
      const want = referenceForward(refConfig(ckpt), weights, ids);
      expect(maxDiff(out.data, (b * S + (S - ids.length)) * V, want, V), `row ${b}`).toBeLessThan(TOL);
    });
    await model.dispose();
  });

  it('merged on the fly (θ_target + α·v): the graph runs the merge engine\'s float32 weights', async () => {
    const [sft, rl, target] = await Promise.all([open('tiny-qwen2-sft'), open('tiny-qwen2-rl'), open('tiny-qwen2-target')]);
    const plan = planMerge({ sft, rl, target }, { mode: 'merge', outDtype: 'F32' });
    const weights = await mergedWeightsF32(plan, new CpuTensorMerger(), 1.5);
    const { model } = await modelFor(target, weights);
    const out = await model.forward([PROMPTS[0]]);
    expect(maxDiff(out.data, 0, referenceForward(refConfig(target), weights, PROMPTS[0]), target.config.vocabSize)).toBeLessThan(TOL);
    await model.dispose();
  });

  it('greedy generation with the KV cache equals greedy decoding by repeated full reference passes; batch rows equal their solo runs', async () => {
    const ckpt = await open('tiny-qwen2-untied-target');
    const { model, weights } = await modelFor(ckpt);
    const N = 6;
    const solo = [];
    for (const ids of PROMPTS) {
      const seq = [...ids];
      for (let i = 0; i < N; i++) {
        const logits = referenceForward(refConfig(ckpt), weights, seq).at(-1)!;
        seq.push(logits.indexOf(Math.max(...logits)));
      }
      const got = await model.generate([ids], { maxNewTokens: N, eosTokenIds: [] });
      expect(got[0].ids).toEqual(seq.slice(ids.length));
      expect(got[0].finishReason).toBe('length');
      solo.push(got[0].ids);
    }
    const batch = await model.generate(PROMPTS, { maxNewTokens: N, eosTokenIds: [] });
    expect(batch.map((r) => r.ids)).toEqual(solo);
    await model.dispose();
  });

  it('EOS ends a row; seeded sampling is reproducible', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model } = await modelFor(ckpt);
    const greedy = await model.generate([PROMPTS[1]], { maxNewTokens: 4, eosTokenIds: [] });
    const eos = greedy[0].ids[1];
    const stopped = await model.generate([PROMPTS[1]], { maxNewTokens: 4, eosTokenIds: [eos] });
    expect(stopped[0]).toMatchObject({ finishReason: 'eos', ids: greedy[0].ids.slice(0, greedy[0].ids.indexOf(eos) + 1) });
    const a = await model.generate([PROMPTS[2]], { maxNewTokens: 8, eosTokenIds: [], temperature: 1.5, topP: 0.9, seed: 7 });
    const b = await model.generate([PROMPTS[2]], { maxNewTokens: 8, eosTokenIds: [], temperature: 1.5, topP: 0.9, seed: 7 });
    expect(a).toEqual(b);
    await model.dispose();
  });

  it('onToken reports each row after every step (a finished row no more); an aborted signal stops after the step in flight', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model } = await modelFor(ckpt);
    const whole = await model.generate(PROMPTS, { maxNewTokens: 5, eosTokenIds: [] });
    const eos = whole[1].ids[1];
    const ended = await model.generate(PROMPTS, { maxNewTokens: 5, eosTokenIds: [eos] });
    const seen: Array<[number, number[]]> = [];
    const streamed = await model.generate(PROMPTS, { maxNewTokens: 5, eosTokenIds: [eos], onToken: (row, ids) => seen.push([row, [...ids]]) });
    expect(streamed).toEqual(ended);
    // Every row's reports are its prefixes, one per token, ending with the whole answer.
    for (let b = 0; b < PROMPTS.length; b++) {
      const mine = seen.filter(([r]) => r === b).map(([, ids]) => ids);
      expect(mine).toEqual(ended[b].ids.map((_, i) => ended[b].ids.slice(0, i + 1)));
    }
    const ac = new AbortController();
    const got: number[][] = [];
    const cancelled = model.generate([PROMPTS[0]], {
      maxNewTokens: 5,
      eosTokenIds: [],
      signal: ac.signal,
      onToken: (_row, ids) => {
        got.push([...ids]);
        if (ids.length === 2) ac.abort();
      },
    });
    await expect(cancelled).rejects.toThrow('the generation was cancelled.');
    expect(got).toEqual([whole[0].ids.slice(0, 1), whole[0].ids.slice(0, 2)]);
    // The model is still usable after a cancelled generation (its cache was disposed, not left in use).
    expect(await model.generate([PROMPTS[0]], { maxNewTokens: 5, eosTokenIds: [] })).toEqual([whole[0]]);
    await model.dispose();
  });

  it('stop strings end a row and are cut from its text; other rows go on', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model } = await modelFor(ckpt);
    const greedy = await model.generate([PROMPTS[0], PROMPTS[2]], { maxNewTokens: 5, eosTokenIds: [] });
    // A decoder that spells ids as "<id>": the third token of row 0 becomes the stop string.
    const decode = (ids: number[]) => ids.map((i) => `<${i}>`).join('');
    const stop = `<${greedy[0].ids[2]}>`;
    const res = await model.generate([PROMPTS[0], PROMPTS[2]], { maxNewTokens: 5, eosTokenIds: [], decode, stopStrings: [stop] });
    const firstStop = greedy[0].ids.findIndex((i) => `<${i}>` === stop);
    expect(res[0].finishReason).toBe('stop');
    expect(res[0].ids).toEqual(greedy[0].ids.slice(0, firstStop + 1));
    expect(res[0].text).toBe(decode(greedy[0].ids.slice(0, firstStop)));
    if (!greedy[1].ids.map((i) => `<${i}>`).includes(stop)) expect(res[1]).toMatchObject({ finishReason: 'length', ids: greedy[1].ids });
    await model.dispose();
  });

  it('bad input is refused before running: ids outside the vocabulary, prompts past max_position_embeddings', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model } = await modelFor(ckpt);
    await expect(model.forward([[1, 288]])).rejects.toThrow('token id 288 is outside the vocabulary (0 … 287).');
    await expect(model.forward([[1, -1]])).rejects.toThrow('token id -1 is outside the vocabulary');
    await expect(model.generate([Array(120).fill(1)], { maxNewTokens: 20, eosTokenIds: [] })).rejects.toThrow(
      'a prompt of 120 tokens plus 20 new ones exceeds max_position_embeddings (128).',
    );
    await model.dispose();
  });
});

describe('float16 compute (what the page uses where the GPU has shader-f16), on the WASM provider', () => {
  it('logits within float16 rounding of the reference, batch with left padding; KV-cached greedy tokens match full passes', async () => {
    const ckpt = await open('tiny-qwen2-untied-target');
    const spec = decoderSpec(ckpt.config, shapes(ckpt), ckpt.source.label);
    const weights = await checkpointWeightsF32(ckpt, spec);
    const V = ckpt.config.vocabSize;
    const f16 = (a: Float32Array) => new Uint16Array(encodeFromF32(a, 'F16').buffer);
    for (const feed of [
      { kind: 'embedded' as const, arrays: weights },
      { kind: 'inputs' as const, tensors: Object.fromEntries(spec.weights.map((w) => [w.name, new ort.Tensor('float16', f16(weights.get(w.name)!), w.shape)])) },
    ]) {
      const model = new DecoderModel(runtime, ckpt.config, spec, feed, 'float16');
      const out = await model.forward(PROMPTS);
      const S = Math.max(...PROMPTS.map((p) => p.length));
      let worst = 0;
      let scale = 0;
      PROMPTS.forEach((ids, b) => {
        const want = referenceForward(refConfig(ckpt), weights, ids);
        worst = Math.max(worst, maxDiff(out.data, (b * S + (S - ids.length)) * V, want, V));
        want.forEach((row) => row.forEach((v) => (scale = Math.max(scale, Math.abs(v)))));
      });
      // f16 keeps 11 significant bits: errors of a few 1e-3 relative to the logit scale.
      expect(worst / scale, feed.kind).toBeLessThan(1e-2);
      expect(worst, feed.kind).toBeGreaterThan(0); // really computed in f16, not silently in f32
      const gen = await model.generate([PROMPTS[1]], { maxNewTokens: 4, eosTokenIds: [] });
      const seq = [...PROMPTS[1]];
      for (const id of gen[0].ids) {
        const logits = (await model.forward([seq])).data.subarray((seq.length - 1) * V, seq.length * V);
        expect(id).toBe(logits.indexOf(Math.max(...logits)));
        seq.push(id);
      }
      await model.dispose();
    }
  });
});

describe('loglikelihood (lm-eval\'s request type) against the float64 reference', () => {
  /** Σ log softmax over the continuation, and is_greedy, from full reference passes. */
  function referenceLoglikelihood(c: RefConfig, w: Map<string, Float32Array>, context: number[], continuation: number[]) {
    const logits = referenceForward(c, w, [...context, ...continuation]);
    let ll = 0;
    let greedy = true;
    continuation.forEach((tok, j) => {
      const row = logits[context.length - 1 + j];
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      ll += row[tok] - lse;
      greedy &&= row.indexOf(max) === tok;
    });
    return { ll, greedy };
  }

  it('shared and distinct contexts, continuations of 1–5 tokens, across batches: equal to full passes within 1e-5', async () => {
    const ckpt = await open('tiny-qwen2-untied-target');
    const { model, weights } = await modelFor(ckpt);
    const c1 = [283, 10, 20, 30, 40];
    const c2 = [5, 6];
    const c3 = [100, 200, 150, 3, 9, 12, 44];
    const requests = [
      { context: c1, continuation: [7] },
      { context: c1, continuation: [8, 9, 10] },
      { context: c2, continuation: [1, 2, 3, 4, 5] },
      { context: c1, continuation: [11, 12] },
      { context: c3, continuation: [77] },
      { context: c2, continuation: [9] },
      { context: c3, continuation: [13, 14] },
    ];
    // The greedy continuation of c2 must come out is_greedy = true.
    const g1 = (await model.generate([c2], { maxNewTokens: 3, eosTokenIds: [] }))[0].ids;
    requests.push({ context: c2, continuation: g1 });
    for (const batchSize of [1, 2, 8]) {
      const got = await model.loglikelihood(requests, { batchSize });
      requests.forEach((r, i) => {
        const want = referenceLoglikelihood(refConfig(ckpt), weights, r.context, r.continuation);
        expect(Math.abs(got[i].loglikelihood - want.ll), `request ${i}, batch ${batchSize}`).toBeLessThan(1e-5);
        expect(got[i].isGreedy, `request ${i}`).toBe(want.greedy);
      });
      expect(got.at(-1)!.isGreedy).toBe(true);
    }
    await model.dispose();
  });

  it('an empty context or continuation is refused', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const { model } = await modelFor(ckpt);
    await expect(model.loglikelihood([{ context: [], continuation: [1] }])).rejects.toThrow(/non-empty context/);
    await expect(model.loglikelihood([{ context: [1], continuation: [] }])).rejects.toThrow(/non-empty continuation/);
    await model.dispose();
  });
});
