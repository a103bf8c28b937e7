import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODELS } from '../../../scripts/make-fixtures.ts';
import { makeFixtureDir, MODEL_FIXTURES, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { decideMerge, REFUSAL_LISTED, VOCAB_POLICIES, type VocabPolicy } from '../merge/decide-merge.ts';
import { headersOf, MergePlanError, planMerge, type MergePlan } from '../merge/merge-plan.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { compatibilityVerdict, headersOfSummary, type Role, type Verdict } from './compatibility.ts';
import { summarizeCheckpoint, type CheckpointSummary } from './inspect-checkpoint.ts';
import { openCheckpoint, type Checkpoint } from './open-checkpoint.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** Every model fixture scripts/make-fixtures.ts writes, the demo trio included. */
const ALL_FIXTURES = [...MODEL_FIXTURES, ...DEMO_MODELS];

let fx: FixtureDir;
const summaries = new Map<string, CheckpointSummary>();
const checkpoints = new Map<string, Checkpoint>();
beforeAll(async () => {
  fx = makeFixtureDir('studio-fixtures-', { demo: true });
  for (const name of ALL_FIXTURES) {
    const ckpt = await openCheckpoint(await localFolderSource(fx.model(name)));
    checkpoints.set(name, ckpt);
    summaries.set(name, summarizeCheckpoint(ckpt));
  }
  // The demo trio is built by fitting a head (about a second alone; more on a shared machine).
}, 60_000);
afterAll(() => fx.cleanup());

/** A deep copy, so edits never leak between tests. */
const get = (name: string): CheckpointSummary => structuredClone(summaries.get(name)!);
const trio = (sft: string, rl: string, target: string): Record<Role, CheckpointSummary> => ({ sft: get(sft), rl: get(rl), target: get(target) });
const without = (s: CheckpointSummary, name: string): CheckpointSummary => ({ ...s, tensors: s.tensors.filter((t) => t.name !== name) });
const VOCAB_SHAPES = { sft: [288, 16], rl: [288, 16], target: [320, 16] };
const VOCAB_REFUSAL = 'tensor "model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [288, 16], target [320, 16] (vocabulary sizes differ).';

describe('compatibilityVerdict on the fixtures', () => {
  it('the bf16 tied trio is compatible: 26 tensors merged', () => {
    expect(compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target'))).toEqual({
      ok: true,
      status: 'compatible',
      headline: 'Compatible: 26 tensors receive α·v.',
      mode: 'merge',
      policy: 'refuse',
      allowedBy: undefined,
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
    const v = compatibilityVerdict(trio('tiny-qwen2-untied-sft', 'tiny-qwen2-untied-rl', 'tiny-qwen2-untied-target'));
    expect([v.ok, v.headline, v.mergedTensors, v.keptTensors, v.outputDtypes, v.items]).toEqual([true, 'Compatible: 27 tensors receive α·v.', 27, 0, ['BF16'], []]);
  });

  it('a vocab-320 target under "refuse": refused, naming embed_tokens with the three shapes, and "overlap" named as the way out', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target'));
    expect([v.ok, v.status, v.policy, v.allowedBy]).toEqual([false, 'incompatible', 'refuse', 'overlap']);
    expect(v.headline).toBe('Incompatible under the vocab policy "refuse" (1 problem); "overlap" would allow merging.');
    // The tied target stores no lm_head: the merge writes embed_tokens only, so that is the one refusal.
    expect(v.items).toEqual([{ severity: 'error', code: 'vocab-mismatch', tensor: 'model.embed_tokens.weight', shapes: VOCAB_SHAPES, allowedBy: 'overlap', message: VOCAB_REFUSAL }]);
  });

  it('the same trio under "overlap": compatible, 288 of 320 rows merged, the rest the target\'s', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target'), { vocabPolicy: 'overlap' });
    expect([v.ok, v.status, v.headline, v.mergedTensors, v.allowedBy]).toEqual([true, 'compatible-with-warnings', 'Compatible: 26 tensors receive α·v (1 warning).', 26, undefined]);
    expect(v.items).toEqual([
      {
        severity: 'warning',
        code: 'vocab-mismatch',
        tensor: 'model.embed_tokens.weight',
        shapes: VOCAB_SHAPES,
        message: 'model.embed_tokens.weight: vocab policy "overlap": rows 0…287 merged, 32 row(s) of the target kept (SFT [288, 16], RL [288, 16], target [320, 16]).',
      },
    ]);
  });

  it('saving the vector does not involve the target: a vocab-320 target leaves the donor pair compatible', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target'), { mode: 'vector' });
    expect([v.ok, v.headline, v.outputDtypes]).toEqual([true, 'Compatible: 26 tensors in the vector.', ['F32']]);
    const donors = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-vocab320-target', 'tiny-qwen2-target'), { mode: 'vector' });
    expect([donors.ok, donors.allowedBy, donors.headline]).toEqual([false, 'overlap', 'Incompatible under the vocab policy "refuse" (1 problem); "overlap" would allow saving the vector.']);
    expect(donors.items[0].message).toBe('tensor "model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [320, 16] (vocabulary sizes differ).');
  });

  it('tied donors with an untied target: a tied-head warning, the real lm_head is merged', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-untied-target'));
    expect([v.status, v.headline]).toEqual(['compatible-with-warnings', 'Compatible: 27 tensors receive α·v (1 warning).']);
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
    expect([v.status, v.mergedTensors, v.keptTensors, v.headline]).toEqual(['compatible-with-warnings', 26, 0, 'Compatible: 26 tensors receive α·v (1 warning).']);
    expect(v.items.map((i) => [i.code, i.message])).toEqual([
      [
        'tied-head',
        "Heads differ (SFT donor untied, RL donor untied, target tied). The target ties lm_head to embed_tokens, so the merged head follows embed_tokens' vector; the donors' lm_head difference is not used.",
      ],
    ]);
  });

  it('an f32 (or f16) target: a dtype-mix info, output in the target dtype (or the chosen one), still compatible', () => {
    const v = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-f32'));
    expect([v.status, v.mergedTensors, v.outputDtypes]).toEqual(['compatible', 26, ['F32']]);
    expect(v.items).toEqual([
      { severity: 'info', code: 'dtype-mix', message: "Dtypes differ (SFT donor BF16, RL donor BF16, target F32); the merge computes in float32 and writes the target's dtype." },
    ]);
    expect(compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-f16')).outputDtypes).toEqual(['F16']);
    const chosen = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-f32'), { outDtype: 'BF16' });
    expect([chosen.outputDtypes, chosen.items[0].message]).toEqual([['BF16'], 'Dtypes differ (SFT donor BF16, RL donor BF16, target F32); the merge computes in float32 and writes BF16.']);
  });

  it('the demo donors into a tiny target: every structural config field differs, refused with no policy to allow it', () => {
    const v = compatibilityVerdict(trio('demo-arith-sft', 'demo-arith-rl', 'tiny-qwen2-untied-target'), { vocabPolicy: 'overlap' });
    expect([v.ok, v.allowedBy]).toEqual([false, undefined]);
    expect(v.headline).toMatch(/^Incompatible: \d+ problems must be fixed before merging\.$/);
    expect(v.items.find((i) => i.code === 'config-mismatch')?.message).toBe(
      'config hiddenSize differs: SFT donor 128, RL donor 128, target 16; the checkpoints are not the same architecture size.',
    );
    expect(v.items.filter((i) => i.code === 'shape-mismatch').length).toBe(27);
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
    expect([v.status, v.headline, v.mergedTensors, v.keptTensors]).toEqual(['compatible-with-warnings', 'Compatible: 25 tensors receive α·v (1 warning).', 25, 0]);
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

  it('a non-vocab shape mismatch names the tensor, and no vocab policy allows it', () => {
    const t = base();
    t.rl.tensors = t.rl.tensors.map((x) => (x.name === T ? { ...x, shape: [16, 32] } : x));
    for (const vocabPolicy of VOCAB_POLICIES) {
      const v = compatibilityVerdict(t, { vocabPolicy });
      expect([v.status, v.allowedBy, v.headline]).toEqual(['incompatible', undefined, 'Incompatible: 1 problem must be fixed before merging.']);
      expect(v.items).toEqual([
        {
          severity: 'error',
          code: 'shape-mismatch',
          tensor: T,
          shapes: { sft: shape, rl: [16, 32], target: shape },
          message: `tensor "${T}" shapes differ: SFT [32, 16], RL [16, 32], target [32, 16]; the checkpoints are not the same architecture size.`,
        },
      ]);
    }
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
      {
        severity: 'error',
        code: 'config-mismatch',
        values: { sft: 2, rl: 3, target: 2 },
        message: 'config numLayers differs: SFT donor 2, RL donor 3, target 2; the checkpoints are not the same architecture size.',
      },
      { severity: 'warning', code: 'rope-theta', message: "rope theta differs (SFT donor 1000000, RL donor 10000, target 10000); the merged model uses the target's." },
    ]);
    expect(v.headline).toBe('Incompatible: 2 problems must be fixed before merging.');
  });

  it('an unsupported dtype is refused naming the checkpoint, the tensor and the dtype', () => {
    const t = base();
    t.rl.tensors = t.rl.tensors.map((x) => (x.name === T ? { ...x, dtype: 'F8_E4M3' } : x));
    const v = compatibilityVerdict(t, { vocabPolicy: 'overlap' });
    expect([v.ok, v.allowedBy]).toEqual([false, undefined]);
    expect(v.items.filter((i) => i.severity === 'error')).toEqual([
      {
        severity: 'error',
        code: 'dtype',
        tensor: T,
        message: `${t.rl.source}: tensor "${T}" has dtype F8_E4M3; the studio merges BF16, F16 and F32 only. Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).`,
      },
    ]);
  });

  it('donors that share nothing with the target: refused', () => {
    const t = base();
    t.target.tensors = t.target.tensors.map((x) => ({ ...x, name: `renamed.${x.name}` }));
    const v = compatibilityVerdict(t);
    expect(v.items.filter((i) => i.severity === 'error').map((i) => i.message)).toEqual([
      'no tensor is shared by the donors and the target; check that the checkpoints belong together.',
    ]);
  });
});

/**
 * The page's verdict (from the slots' summaries) against what merge does (planMerge on the opened
 * checkpoints), for every trio of fixtures under every vocab policy: they must agree on whether
 * the trio merges, on every output tensor, and on the refusal's words.
 */
describe('verdict == plan on every fixture trio', () => {
  type Outcome = { plan: MergePlan } | { error: unknown };
  const attempt = (f: () => MergePlan): Outcome => {
    try {
      return { plan: f() };
    } catch (error) {
      return { error };
    }
  };
  /** The plan's tensors as the decision describes them, by name. */
  const planTensors = (plan: MergePlan) =>
    plan.tensors
      .map((t) => ({
        name: t.name,
        shape: t.shape,
        dtype: t.dtype,
        mergedElements: t.mergedElements,
        from: Object.fromEntries((['sft', 'rl', 'target'] as const).filter((r) => t[r]).map((r) => [r, t[r]!.name])),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));

  /** Items in a fixed order: the plan lists tensors in file order, a summary by name. */
  const normal = (v: Verdict) => ({ ...v, items: v.items.map((i) => JSON.stringify(i)).sort() });
  /** The fixtures' summaries as the page holds them (read-only here: no copies in a loop of 5,000). */
  const page = (s: string, r: string, t: string) => ({ sft: summaries.get(s)!, rl: summaries.get(r)!, target: summaries.get(t)! });

  /**
   * Where the page's verdict and the merge disagree, in words (empty when they agree). Plain
   * comparisons, gathered and asserted once: 5,000 rounds of expect() cost more than the rules.
   */
  function disagreements(verdict: Verdict, fromCheckpoints: Verdict, outcome: Outcome, decided: ReturnType<typeof decideMerge>['tensors'], retry: (p: VocabPolicy) => Outcome): string[] {
    const out: string[] = [];
    const check = (what: string, ok: boolean) => ok || out.push(what);
    check('the verdict from the summaries differs from the one from the checkpoints', isDeepStrictEqual(normal(fromCheckpoints), normal(verdict)));
    if ('plan' in outcome) {
      const plan = outcome.plan;
      check('the plan merges a trio the verdict refuses', verdict.ok);
      const fromVerdict = decided.map(({ name, shape, dtype, mergedElements, from }) => ({ name, shape, dtype, mergedElements, from })).sort((a, b) => (a.name < b.name ? -1 : 1));
      check('tensors differ', isDeepStrictEqual(fromVerdict, planTensors(plan)));
      check('merged count differs', verdict.mergedTensors === plan.tensors.filter((t) => t.mergedElements > 0).length);
      check('kept count differs', verdict.keptTensors === plan.tensors.filter((t) => !t.sft).length);
      check('output dtypes differ', isDeepStrictEqual(verdict.outputDtypes, [...new Set(plan.tensors.map((t) => t.dtype))].sort()));
      const warnings = verdict.items.filter((i) => i.severity === 'warning' && !i.code.startsWith('missing')).map((i) => i.message);
      check('a warning is missing from the plan notes', warnings.every((w) => plan.notes.includes(w)));
      return out;
    }
    check('the verdict allows a trio the plan refuses', !verdict.ok);
    if (!(outcome.error instanceof MergePlanError)) return [...out, `planMerge threw ${String(outcome.error)}`];
    const message = outcome.error.message;
    // Up to REFUSAL_LISTED errors are spelt out in full; past that, the first ones (without their shared
    // "not the same architecture size" tail) and how many more.
    const errors = verdict.items.filter((i) => i.severity === 'error').map((i) => i.message);
    if (errors.length <= REFUSAL_LISTED) check('the refusal leaves out an error of the verdict', errors.every((m) => message.includes(m)));
    else {
      check('the refusal leaves out one of the first errors', errors.slice(0, REFUSAL_LISTED).every((m) => message.includes(m.replace('; the checkpoints are not the same architecture size.', '').replace(/\.$/, ''))));
      check('the refusal does not count the other errors', message.includes(`; and ${errors.length - REFUSAL_LISTED} more`));
      check('the refusal is over 1,000 characters, not a summary', message.length <= 1000);
    }
    check("the refusal's verdict differs", isDeepStrictEqual(outcome.error.verdict, fromCheckpoints));
    for (const other of VOCAB_POLICIES.filter((p) => p !== verdict.policy)) {
      // The policy the verdict names is one under which the merge really runs; no other one is.
      check(`under "${other}" the plan ${'plan' in retry(other) ? 'runs' : 'refuses'}, the verdict named ${verdict.allowedBy}`, 'plan' in retry(other) === (other === verdict.allowedBy));
    }
    if (verdict.allowedBy) check('the refusal does not name the policy', message.includes(`Choose the vocab policy "${verdict.allowedBy}" (CLI: --vocab-policy ${verdict.allowedBy})`));
    return out;
  }

  it(`merge: all ${ALL_FIXTURES.length ** 3} trios × ${VOCAB_POLICIES.length} policies`, () => {
    const tally: Record<string, number> = {};
    const problems: string[] = [];
    for (const s of ALL_FIXTURES)
      for (const r of ALL_FIXTURES)
        for (const t of ALL_FIXTURES) {
          const ckpts = { sft: checkpoints.get(s)!, rl: checkpoints.get(r)!, target: checkpoints.get(t)! };
          const run = (vocabPolicy: VocabPolicy) => attempt(() => planMerge(ckpts, { mode: 'merge', vocabPolicy }));
          for (const vocabPolicy of VOCAB_POLICIES) {
            const verdict = compatibilityVerdict(page(s, r, t), { vocabPolicy });
            const p = page(s, r, t);
            const decided = decideMerge({ sft: headersOfSummary(p.sft), rl: headersOfSummary(p.rl), target: headersOfSummary(p.target) }, { mode: 'merge', vocabPolicy }).tensors;
            const fromCheckpoints = decideMerge({ sft: headersOf(ckpts.sft), rl: headersOf(ckpts.rl), target: headersOf(ckpts.target) }, { mode: 'merge', vocabPolicy }).verdict;
            for (const d of disagreements(verdict, fromCheckpoints, run(vocabPolicy), decided, run)) problems.push(`${s} + ${r} → ${t} (${vocabPolicy}): ${d}`);
            const key = `${vocabPolicy}:${verdict.ok ? 'ok' : verdict.allowedBy ? `allowed-by-${verdict.allowedBy}` : 'refused'}`;
            tally[key] = (tally[key] ?? 0) + 1;
          }
        }
    expect(problems).toEqual([]);
    // 11 tiny fixtures of one architecture size (vocab320 the odd one out in vocabulary) and a demo
    // trio of another: 10³ + 1 tiny trios agree on the vocabulary, 11³ − (10³ + 1) = 330 need
    // "overlap", 3³ demo trios merge, and every trio mixing the two families is refused outright.
    expect(tally).toEqual({
      'refuse:ok': 1001 + 27,
      'refuse:allowed-by-overlap': 330,
      'refuse:refused': 14 ** 3 - 1358,
      'overlap:ok': 1331 + 27,
      'overlap:refused': 14 ** 3 - 1358,
    });
  }, 120_000);

  it(`vector: all ${ALL_FIXTURES.length ** 2} donor pairs × ${VOCAB_POLICIES.length} policies`, () => {
    const tally: Record<string, number> = {};
    const problems: string[] = [];
    for (const s of ALL_FIXTURES)
      for (const r of ALL_FIXTURES) {
        const pair = { sft: checkpoints.get(s)!, rl: checkpoints.get(r)! };
        const run = (vocabPolicy: VocabPolicy) => attempt(() => planMerge(pair, { mode: 'vector', vocabPolicy }));
        for (const vocabPolicy of VOCAB_POLICIES) {
          // The page passes all three slots; the vector must not depend on the target.
          const p = page(s, r, 'tiny-qwen2-vocab320-target');
          const verdict = compatibilityVerdict(p, { mode: 'vector', vocabPolicy });
          const decided = decideMerge({ sft: headersOfSummary(p.sft), rl: headersOfSummary(p.rl) }, { mode: 'vector', vocabPolicy }).tensors;
          const fromCheckpoints = decideMerge({ sft: headersOf(pair.sft), rl: headersOf(pair.rl) }, { mode: 'vector', vocabPolicy }).verdict;
          for (const d of disagreements(verdict, fromCheckpoints, run(vocabPolicy), decided, run)) problems.push(`${s} + ${r} (${vocabPolicy}): ${d}`);
          const key = `${vocabPolicy}:${verdict.ok ? 'ok' : verdict.allowedBy ? 'allowed' : 'refused'}`;
          tally[key] = (tally[key] ?? 0) + 1;
        }
      }
    expect(problems).toEqual([]);
    // vocab320 paired with one of the 10 other tiny fixtures, either way round: 20 pairs.
    expect(tally).toEqual({ 'refuse:ok': 101 + 9, 'refuse:allowed': 20, 'refuse:refused': 196 - 130, 'overlap:ok': 121 + 9, 'overlap:refused': 196 - 130 });
  }, 60_000);
});

describe('the CLI refuses with the same rules', () => {
  const run = promisify(execFile);
  const studio = (...args: string[]) => run(process.execPath, [join(REPO_ROOT, 'bin/studio.js'), ...args], { cwd: REPO_ROOT }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

  it('node bin/studio.js merge on the vocab-320 target: exit 2 and the verdict\'s refusal, word for word; nothing written', async () => {
    const out = join(fx.root, 'refused-merge');
    const r = await studio('merge', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-vocab320-target'), '--alpha', '1', '--out', out);
    const verdict = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target'));
    expect(verdict.items[0].message).toBe(VOCAB_REFUSAL);
    expect(r).toEqual({
      code: 2,
      stderr: `studio merge: ${VOCAB_REFUSAL} Choose the vocab policy "overlap" (CLI: --vocab-policy overlap) to merge the rows all three share and keep the target's other rows.\n`,
    });
    expect(existsSync(out)).toBe(false);
  });

  it('node bin/studio.js vector on a vocab-mismatched donor pair: exit 2 with the vector\'s refusal', async () => {
    const r = await studio('vector', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-vocab320-target'), '--out', join(fx.root, 'refused-vector'));
    const verdict = compatibilityVerdict(trio('tiny-qwen2-sft', 'tiny-qwen2-vocab320-target', 'tiny-qwen2-target'), { mode: 'vector' });
    expect(r).toEqual({
      code: 2,
      stderr: `studio vector: ${verdict.items[0].message} Choose the vocab policy "overlap" (CLI: --vocab-policy overlap) to keep the rows both donors share in the vector.\n`,
    });
  });
});
