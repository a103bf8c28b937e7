import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { referenceForward } from '../../../test-support/reference-forward.ts';
import { openCheckpoint, type Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { rowBlockName, rowBlocks } from '../gpu/buffer-limits.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { decoderSpec, splitWeights, weightInputs, type DecoderSpec } from './decoder-graph.ts';
import { DecoderModel } from './decoder-model.ts';
import { OrtRuntime, type Ort } from './ort-runtime.ts';
import { checkpointWeightsF32 } from './weights.ts';

/**
 * Weights larger than a GPU buffer may be are taken as row blocks (gpu/buffer-limits.ts): the
 * embedding is looked up block by block and a split linear weight (the head, tied or not, and MLP
 * matrices) is one Gemm per block with the outputs concatenated. Forced small limits here split
 * the fixtures' tensors into uneven blocks; the logits must equal the unsplit graph's on
 * onnxruntime-web (WASM in Node), and both the float64 reference.
 */
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
const specOf = (c: Checkpoint) => decoderSpec(c.config, new Map([...c.tensors].map(([n, t]) => [n, t.shape])), c.source.label);
const PROMPTS = [[283, 10, 20, 30, 40, 284], [5, 6, 7], [100, 200, 150, 3, 9, 12, 44, 1, 287, 0]];

/** Each weight as graph inputs, sliced per block from the whole float32 arrays. */
function inputsFeed(spec: DecoderSpec, weights: Map<string, Float32Array>) {
  return {
    kind: 'inputs' as const,
    tensors: Object.fromEntries(
      weightInputs(spec).map((i) => {
        const cols = i.shape.slice(1).reduce((a, b) => a * b, 1);
        return [i.name, new ort.Tensor('float32', weights.get(i.tensor)!.slice(i.start * cols, (i.start + i.rows) * cols), i.shape)];
      }),
    ),
  };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('row blocks', () => {
  it('cover the rows in equal blocks within the limit, one block when it fits, and refuse a row larger than a buffer', () => {
    expect(rowBlocks('e', [288, 16], 4, 288 * 64)).toEqual([{ start: 0, rows: 288 }]);
    // 288 rows of 64 bytes under 5000 bytes: at most 78 rows per block, so 4 blocks of 72.
    expect(rowBlocks('e', [288, 16], 4, 5000)).toEqual([0, 72, 144, 216].map((start) => ({ start, rows: 72 })));
    const qwen05 = rowBlocks('model.embed_tokens.weight', [151936, 896], 4, 128 * 1024 ** 2);
    expect(qwen05.length).toBe(5);
    expect(qwen05.reduce((a, b) => a + b.rows, 0)).toBe(151936);
    for (const b of qwen05) expect(b.rows * 896 * 4).toBeLessThanOrEqual(128 * 1024 ** 2);
    expect(() => rowBlocks('w', [4, 1000], 4, 3000)).toThrow(/w: one row of shape \[4, 1000\] is 3\.9 KiB, more than the 2\.9 KiB this GPU allows per buffer/);
  });
});

describe('decoder graph with split weights (onnxruntime-web WASM in Node)', () => {
  // Limits that split the embedding/head (288 × 16 × 4 B = 18 KiB) into 4 or 7 uneven blocks, and at
  // 1500 bytes also every MLP matrix (32 × 16 × 4 B = 2 KiB) into two.
  for (const [name, maxBytes] of [
    ['tiny-qwen2-target', 5000],
    ['tiny-qwen2-untied-target', 3000],
    ['tiny-qwen2-target', 1500],
  ] as const) {
    it(`${name}, blocks of at most ${maxBytes} bytes: logits equal the unsplit graph within 1e-5 (inputs and embedded), greedy tokens equal`, async () => {
      const ckpt = await open(name);
      const whole = specOf(ckpt);
      const split = splitWeights(whole, (n, shape) => rowBlocks(n, shape, 4, maxBytes));
      const blocked = split.weights.filter((w) => w.blocks);
      expect(blocked.map((w) => w.name)).toContain(whole.headTensor);
      if (maxBytes === 1500) expect(blocked.map((w) => w.name)).toContain('model.layers.1.mlp.down_proj.weight');
      expect(weightInputs(split).filter((i) => i.tensor === 'model.embed_tokens.weight').map((i) => i.name)).toEqual(
        split.weights[0].blocks!.map((_, k) => rowBlockName('model.embed_tokens.weight', k)),
      );
      const weights = await checkpointWeightsF32(ckpt, whole);
      const base = new DecoderModel(runtime, ckpt.config, whole, inputsFeed(whole, weights));
      const fed = new DecoderModel(runtime, ckpt.config, split, inputsFeed(split, weights));
      const baked = new DecoderModel(runtime, ckpt.config, split, { kind: 'embedded', arrays: weights });
      let worst = 0;
      for (const ids of PROMPTS) {
        const want = await base.forward([ids]);
        for (const m of [fed, baked]) {
          const got = await m.forward([ids]);
          expect(got.dims).toEqual(want.dims);
          worst = Math.max(worst, maxDiff(got.data, want.data));
        }
        const ref = referenceForward({ ...ckpt.config }, weights, ids);
        const V = ckpt.config.vocabSize;
        ref.forEach((row, t) => row.forEach((v, i) => expect(Math.abs(want.data[t * V + i] - v)).toBeLessThan(1e-5)));
      }
      expect(worst).toBeLessThan(1e-5);
      const g = { maxNewTokens: 5, eosTokenIds: [] };
      expect((await fed.generate(PROMPTS, g)).map((r) => r.ids)).toEqual((await base.generate(PROMPTS, g)).map((r) => r.ids));
      for (const m of [base, fed, baked]) await m.dispose();
    });
  }

  it('a feed without a block input is refused naming it', async () => {
    const ckpt = await open('tiny-qwen2-target');
    const split = splitWeights(specOf(ckpt), (n, shape) => rowBlocks(n, shape, 4, 5000));
    const feed = inputsFeed(split, await checkpointWeightsF32(ckpt, specOf(ckpt)));
    delete feed.tensors[rowBlockName('model.embed_tokens.weight', 2)];
    expect(() => new DecoderModel(runtime, ckpt.config, split, feed)).toThrow('weights for the model are missing "model.embed_tokens.weight.rows_block_2".');
  });
});
