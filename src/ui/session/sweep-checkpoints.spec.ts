import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../../test-support/merge-reference.ts';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { readModelFolder } from '../../../test-support/read-safetensors.ts';
import { openCheckpoint, type Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../../engine/merge/cpu-tensor-merger.ts';
import { planMerge } from '../../engine/merge/merge-plan.ts';
import { mergedWeightsF32 } from '../../engine/model/weights.ts';
import type { SupportedDtype } from '../../engine/safetensors/dtypes.ts';
import { localFolderSource } from '../../engine/sources/local-folder-source.ts';
import { controlTensor } from '../../engine/sweep/control-vector.ts';
import { controlCheckpoint, zerosLike } from './sweep-checkpoints.ts';

/**
 * The page runs the control and the donors alone through the same merge as v, on computed trios.
 * Checked here on the CPU merger (the WGSL merger is bit-exact to it, merge-kernel specs) against
 * an independent computation from the raw safetensors: the control trio gives
 * θ_target + f32(α)·control(seed, f32(rl) − f32(sft)) — the host backend's formula
 * (host-sweep-backend.ts), so page and CLI merge the same control — and the donor trio at α = 0
 * gives the donor's weights exactly.
 */

let fx: FixtureDir;
const open = async (name: string) => openCheckpoint(await localFolderSource(fx.model(name)));
const raw = (name: string) => readModelFolder(fx.model(name));
const f32 = (t: { bytes: Uint8Array; dtype: string }) => Float32Array.from(decode(t.bytes, t.dtype as SupportedDtype));

beforeAll(() => {
  fx = makeFixtureDir('sweep-checkpoints-', { demo: true });
}, 60_000);
afterAll(() => fx?.cleanup());

describe('computed checkpoints of the page sweep', () => {
  let sft: Checkpoint, rl: Checkpoint, target: Checkpoint;
  beforeAll(async () => {
    [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map((r) => open(`demo-arith-${r}`)));
  });

  it('the control trio merges to θ_target + α·control with the host backend\'s float32 rounding, for every tensor', async () => {
    const seed = 1234;
    const alpha = 0.75;
    const plan = planMerge({ sft: zerosLike(sft), rl: controlCheckpoint(sft, rl, seed), target }, { mode: 'merge', outDtype: 'F32' });
    const merged = await mergedWeightsF32(plan, new CpuTensorMerger(), alpha);
    const [S, R, T] = [raw('demo-arith-sft'), raw('demo-arith-rl'), raw('demo-arith-target')];
    expect(merged.size).toBe(T.size);
    const a = Math.fround(alpha);
    let checked = 0;
    for (const [name, t] of T) {
      const s = f32(S.get(name)!);
      const v = f32(R.get(name)!).map((x, i) => x - s[i]); // a Float32Array: rounded as the merge's v
      const c = controlTensor(seed, name, v);
      const base = f32(t);
      const want = base.map((b, i) => b + Math.fround(a * c[i]));
      expect(merged.get(name), name).toEqual(want);
      // The control has v's L2 norm (to float32 precision) and is not v.
      const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, y) => s + y * y, 0));
      expect(norm(c)).toBeCloseTo(norm(v), 3);
      if (norm(v) > 0) expect(Array.from(c)).not.toEqual(Array.from(v));
      checked++;
    }
    expect(checked).toBe(T.size);
  });

  it('a donor trio at α = 0 is the donor bit for bit', async () => {
    for (const [donor, name] of [
      [sft, 'demo-arith-sft'],
      [rl, 'demo-arith-rl'],
    ] as const) {
      const plan = planMerge({ sft: zerosLike(donor), rl: zerosLike(donor), target: donor }, { mode: 'merge', outDtype: 'F32' });
      const merged = await mergedWeightsF32(plan, new CpuTensorMerger(), 0);
      for (const [tensor, t] of raw(name)) expect(merged.get(tensor), `${name} ${tensor}`).toEqual(f32(t));
    }
  });

  it('ranged reads of a computed tensor are slices of the whole (a merge reads chunk by chunk)', async () => {
    const control = controlCheckpoint(sft, rl, 7);
    const name = [...control.tensors.keys()].find((n) => n.includes('embed'))!;
    const whole = await control.readTensorBytes(name);
    expect(whole.byteLength).toBe(control.tensors.get(name)!.byteLength);
    for (const [off, len] of [
      [0, 4],
      [4, 1020],
      [whole.byteLength - 8, 8],
    ]) {
      expect(await control.readTensorBytes(name, off, len)).toEqual(whole.subarray(off, off + len));
    }
    await expect(control.readTensorBytes(name, whole.byteLength - 4, 8)).rejects.toThrow(RangeError);
    const zeros = zerosLike(target);
    expect([...(await zeros.readTensorBytes(name, 0, 64))].every((b) => b === 0)).toBe(true);
    expect([...zeros.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
  });
});
