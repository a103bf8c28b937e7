import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, MODEL_FIXTURES, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { compatibilityVerdict, type Role } from './compatibility.ts';
import { summarizeCheckpoint, type CheckpointSummary } from './inspect-checkpoint.ts';
import { openCheckpoint } from './open-checkpoint.ts';

let fx: FixtureDir;
const summaries = new Map<string, CheckpointSummary>();
beforeAll(async () => {
  fx = makeFixtureDir();
  for (const name of MODEL_FIXTURES) summaries.set(name, summarizeCheckpoint(await openCheckpoint(await localFolderSource(fx.model(name)))));
});
afterAll(() => fx.cleanup());

/** A deep copy, so edits never leak between tests. */
const get = (name: string): CheckpointSummary => structuredClone(summaries.get(name)!);
const trio = (sft: string, rl: string, target: string): Record<Role, CheckpointSummary> => ({ sft: get(sft), rl: get(rl), target: get(target) });
const without = (s: CheckpointSummary, name: string): CheckpointSummary => ({ ...s, tensors: s.tensors.filter((t) => t.name !== name) });

describe('compatibilityVerdict on the fixtures', () => {
  it('the bf16 tied trio is compatible: 26 tensors merged', () => {
    expect(compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target'))).toEqual({
      status: 'compatible',
      headline: 'Compatible: 26 tensors receive α·v.',
      mergedTensors: 26,
      keptTensors: 0,
      outputDtypes: ['BF16'],
      items: [],
    });
  });

  it('a sharded or v5 target changes nothing', () => {
    for (const target of ['tiny-qwen2-sharded', 'tiny-qwen2-v5']) {
      const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', target));
      expect([v.status, v.mergedTensors, v.items]).toEqual(['compatible', 26, []]);
    }
  });

  it('the untied trio is compatible: 27 tensors merged (lm_head included)', () => {
    expect(compatibilityVerdict(trio('tiny-qwen2-untied-sft', 'tiny-qwen2-untied-rl', 'tiny-qwen2-untied-target'))).toEqual({
      status: 'compatible',
      headline: 'Compatible: 27 tensors receive α·v.',
      mergedTensors: 27,
      keptTensors: 0,
      outputDtypes: ['BF16'],
      items: [],
    });
  });

  it('a vocab-320 target is incompatible: embed_tokens (and lm_head via the tie) with the three shapes', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target'));
    expect(v.status).toBe('incompatible');
    expect(v.headline).toBe('Incompatible: 3 problems must be fixed before merging.');
    const shapes = { sft: [288, 16], rl: [288, 16], target: [320, 16] };
    expect(v.items).toEqual([
      { severity: 'error', code: 'config-mismatch', message: 'config vocabSize differs: SFT donor 288, RL donor 288, target 320.' },
      {
        severity: 'error',
        code: 'shape-mismatch',
        tensor: 'lm_head.weight',
        shapes,
        message: 'lm_head.weight shapes differ: SFT [288, 16], RL [288, 16], target [320, 16] (a resized vocabulary).',
      },
      {
        severity: 'error',
        code: 'shape-mismatch',
        tensor: 'model.embed_tokens.weight',
        shapes,
        message: 'model.embed_tokens.weight shapes differ: SFT [288, 16], RL [288, 16], target [320, 16] (a resized vocabulary).',
      },
    ]);
  });

  it('tied donors with an untied target: a tied-head warning, the real lm_head is merged', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-untied-target'));
    expect(v.status).toBe('compatible-with-warnings');
    expect(v.headline).toBe('Compatible: 27 tensors receive α·v (1 warning).');
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'tied-head',
        tensor: 'lm_head.weight',
        message:
          "Heads differ (SFT donor tied, RL donor tied, target untied). A tied donor's head is its embed_tokens, so the target's lm_head receives that donor's embedding difference.",
      },
    ]);
  });

  it('untied donors with a tied target: a tied-head warning, the head follows embed_tokens', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-untied-sft', 'tiny-qwen2-untied-rl', 'tiny-qwen2-target'));
    expect([v.status, v.mergedTensors, v.keptTensors]).toEqual(['compatible-with-warnings', 26, 0]);
    expect(v.headline).toBe('Compatible: 26 tensors receive α·v (1 warning).');
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'tied-head',
        tensor: 'lm_head.weight',
        message:
          "Heads differ (SFT donor untied, RL donor untied, target tied). The target ties lm_head to embed_tokens, so the merged head follows embed_tokens' vector; the donors' lm_head difference is not used.",
      },
    ]);
  });

  it('an f32 (or f16) target: a dtype-mix info, output in the target dtype, still compatible', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-f32'));
    expect([v.status, v.mergedTensors, v.outputDtypes]).toEqual(['compatible', 26, ['F32']]);
    expect(v.items).toEqual([
      {
        severity: 'info',
        code: 'dtype-mix',
        message: "Dtypes differ (SFT donor BF16, RL donor BF16, target F32); the merge computes in float32 and writes the target's dtype.",
      },
    ]);
    expect(compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-f16')).outputDtypes).toEqual(['F16']);
  });
});

describe('edited summaries', () => {
  const base = () => trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target');
  const T = 'model.layers.1.mlp.up_proj.weight';
  const shape = [32, 16];

  it('a tensor missing from the target: its vector is ignored', () => {
    const t = base();
    t.target = without(t.target, T);
    const v = compatibilityVerdict(t);
    expect([v.status, v.headline, v.mergedTensors, v.keptTensors]).toEqual([
      'compatible-with-warnings',
      'Compatible: 25 tensors receive α·v (1 warning).',
      25,
      0,
    ]);
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'missing-in-target',
        tensor: T,
        shapes: { sft: shape, rl: shape, target: null },
        message: `${T} is in the donors but not the target; its vector is ignored.`,
      },
    ]);
  });

  it('a tensor missing from one donor: kept from the target', () => {
    const t = base();
    t.sft = without(t.sft, T);
    const v = compatibilityVerdict(t);
    expect(v.headline).toBe('Compatible: 25 tensors receive α·v, 1 kept from the target (1 warning).');
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'missing-in-pair',
        tensor: T,
        shapes: { sft: null, rl: shape, target: shape },
        message: `${T} is only in the RL donor; the target's tensor is kept unchanged.`,
      },
    ]);
    const u = base();
    u.rl = without(u.rl, T);
    expect(compatibilityVerdict(u).items[0].message).toBe(`${T} is only in the SFT donor; the target's tensor is kept unchanged.`);
  });

  it('a tensor missing from both donors', () => {
    const t = base();
    t.sft = without(t.sft, T);
    t.rl = without(t.rl, T);
    const v = compatibilityVerdict(t);
    expect([v.mergedTensors, v.keptTensors]).toEqual([25, 1]);
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'missing-in-donors',
        tensor: T,
        shapes: { sft: null, rl: null, target: shape },
        message: `${T} is in neither donor; the target's tensor is kept unchanged.`,
      },
    ]);
  });

  it('a non-vocab shape mismatch names the tensor without the vocabulary note', () => {
    const t = base();
    t.rl.tensors = t.rl.tensors.map((x) => (x.name === T ? { ...x, shape: [16, 32] } : x));
    const v = compatibilityVerdict(t);
    expect(v.status).toBe('incompatible');
    expect(v.headline).toBe('Incompatible: 1 problem must be fixed before merging.');
    expect(v.items).toEqual([
      {
        severity: 'error',
        code: 'shape-mismatch',
        tensor: T,
        shapes: { sft: shape, rl: [16, 32], target: shape },
        message: `${T} shapes differ: SFT [32, 16], RL [16, 32], target [32, 16].`,
      },
    ]);
  });

  it('architecture and config differences are errors; rope theta a warning', () => {
    const t = base();
    t.target.architecture = 'LlamaForCausalLM';
    t.rl.config.numLayers = 3;
    t.sft.config.ropeTheta = 1e6;
    const v = compatibilityVerdict(t);
    expect(v.status).toBe('incompatible');
    expect(v.items).toEqual([
      {
        severity: 'error',
        code: 'architecture',
        message: 'Architectures differ: SFT donor Qwen2ForCausalLM, RL donor Qwen2ForCausalLM, target LlamaForCausalLM. Task arithmetic needs one architecture.',
      },
      { severity: 'error', code: 'config-mismatch', message: 'config numLayers differs: SFT donor 2, RL donor 3, target 2.' },
      {
        severity: 'warning',
        code: 'rope-theta',
        message: "rope theta differs (SFT donor 1000000, RL donor 10000, target 10000); the merged model uses the target's.",
      },
    ]);
    expect(v.headline).toBe('Incompatible: 2 problems must be fixed before merging.');
  });
});
