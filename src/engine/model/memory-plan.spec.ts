import { describe, expect, it } from 'vitest';
import { qwen25Config, qwen2Tensors } from '../../../test-support/model-shapes.ts';
import { maxWeightBufferBytes, WEBGPU_DEFAULT_LIMITS, type BufferLimits } from '../gpu/buffer-limits.ts';
import { budgetForGpuMemory, planMemory, STREAM_READ_BYTES_PER_SECOND, thetaErrorBound, type MemoryPlan } from './memory-plan.ts';

/**
 * The memory plans of the real Qwen2.5 configs (../shared/reference/model-configs.md) on several
 * adapters and GPU sizes. Bytes are written out per parameter: target in bf16 (2), v in f32 (4) or
 * f16 (2), θ(α) in f32 (4) or f16 (2), plus three f32 staging chunks of 16M elements.
 */
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const STAGING = 3 * 4 * 16 * MiB;
const PARAMS = { '0.5B': 494_032_768, '1.5B': 1_543_714_304, '7B': 7_615_616_512 } as const;
const tensors = { '0.5B': qwen2Tensors(qwen25Config('0.5B')), '1.5B': qwen2Tensors(qwen25Config('1.5B')), '7B': qwen2Tensors(qwen25Config('7B')) };
/** What every adapter grants (and a device made without requiredLimits gets). */
const DEFAULTS: BufferLimits = WEBGPU_DEFAULT_LIMITS;
/** SwiftShader when asked for its limits: 1 GiB bindings (DESIGN.md). */
const SWIFTSHADER: BufferLimits = { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB };
/** Large limits, as a discrete GPU reports them. */
const LARGE: BufferLimits = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };
const GB12 = budgetForGpuMemory(12e9);
const GB8 = budgetForGpuMemory(8e9);
const GB24 = budgetForGpuMemory(24e9);

const plan = (size: keyof typeof tensors, limits: BufferLimits, shaderF16: boolean, budgetBytes: number, o = {}) =>
  planMemory(tensors[size], { gpu: { limits, shaderF16 }, budgetBytes }, o);
const blocks = (p: MemoryPlan, suffix: string) => p.residency!.split.filter((s) => s.name.endsWith(suffix)).map((s) => s.blocks.length);

describe('the real configs', () => {
  it('have the parameter counts the Hub reports', () => {
    for (const size of ['0.5B', '1.5B', '7B'] as const) expect(tensors[size].reduce((a, t) => a + t.elements, 0)).toBe(PARAMS[size]);
  });

  it('budgets for 8, 12 and 24 GB cards leave room for activations', () => {
    expect(GB8).toBe(8e9 - GiB);
    expect(GB12).toBe(12e9 * 0.9);
    expect(GB24).toBe(24e9 * 0.9);
  });
});

describe('Qwen2.5-0.5B', () => {
  it('plans on an adapter with only WebGPU\'s default limits: the embedding in 5 row blocks, every buffer within 128 MiB', () => {
    // The page's default 4 GiB budget, no shader-f16 (SwiftShader): v in f32 would need 10 bytes a parameter, so v is f16.
    const p = plan('0.5B', DEFAULTS, false, 4 * GiB);
    expect(p).toMatchObject({ kind: 'resident', compute: 'float32' });
    expect(p.residency!.vectorDtype).toBe('F16');
    expect(p.bytes).toBe(PARAMS['0.5B'] * 8 + STAGING);
    expect(p.residency!.split.map((s) => s.name)).toEqual(['model.embed_tokens.weight']);
    expect(blocks(p, 'embed_tokens.weight')).toEqual([5]);
    expect(p.residency!.largestBufferBytes).toBeLessThanOrEqual(128 * MiB);
    expect(p.summary).toContain('model.embed_tokens.weight ×5');
    expect(p.errors.map((e) => e.source)).toEqual(['v in f16']);
    // With shader-f16 θ(α) is f16, so v fits in f32: exact v, θ(α) rounded to f16.
    const f16 = plan('0.5B', DEFAULTS, true, 4 * GiB);
    expect(f16).toMatchObject({ kind: 'resident', compute: 'float16', bytes: PARAMS['0.5B'] * 8 + STAGING });
    expect(f16.residency!.vectorDtype).toBe('F32');
    expect(f16.errors.map((e) => e.source)).toEqual(['θ(α) in f16 (shader-f16: onnxruntime computes in f16)']);
    // Large limits: one buffer per tensor.
    expect(plan('0.5B', LARGE, false, 4 * GiB).residency!.split).toEqual([]);
  });

  it('without WebGPU it is refused, saying why (the WASM heap), before anything is downloaded', () => {
    const p = planMemory(tensors['0.5B'], { gpu: null, budgetBytes: 4 * GiB });
    expect(p.kind).toBe('none');
    expect(p.reason).toMatch(/^No WebGPU here: .* WASM provider, whose 4 GiB heap holds at most 1\.0 GiB of float32 weights; this model has 1\.8 GiB/);
  });
});

describe('Qwen2.5-1.5B', () => {
  for (const [name, limits, embedBlocks] of [
    ['WebGPU defaults', DEFAULTS, 4],
    ['SwiftShader', SWIFTSHADER, 0],
    ['large limits', LARGE, 0],
  ] as const) {
    it(`${name}: resident on a 12 GB GPU with shader-f16 (θ f16, v f16: 6 bytes a parameter); streaming on 8 GB`, () => {
      const p12 = plan('1.5B', limits, true, GB12);
      expect(p12).toMatchObject({ kind: 'resident', compute: 'float16' });
      expect(p12.residency!.vectorDtype).toBe('F16');
      expect(p12.bytes).toBe(PARAMS['1.5B'] * 6 + STAGING);
      expect(p12.bytes).toBeLessThanOrEqual(GB12);
      // One pass reads target and v and writes θ(α): 6 bytes a parameter.
      expect(p12.residency!.alphaGpuBytes).toBe(PARAMS['1.5B'] * 6);
      expect(blocks(p12, 'embed_tokens.weight')).toEqual(embedBlocks ? [embedBlocks] : []);
      expect(p12.residency!.largestBufferBytes).toBeLessThanOrEqual(maxWeightBufferBytes(limits));

      const p8 = plan('1.5B', limits, true, GB8);
      expect(p8).toMatchObject({ kind: 'streaming', bytes: PARAMS['1.5B'] * 2 + STAGING });
      // Each α re-reads three bf16 checkpoints: ~97 s at the cache rate measured on the test VM.
      expect(p8.residency!.alphaReadBytes).toBe(PARAMS['1.5B'] * 6);
      expect(p8.alphaSeconds).toBeCloseTo((PARAMS['1.5B'] * 6) / STREAM_READ_BYTES_PER_SECOND, 0);
      expect(p8.summary).toMatch(/^target \+ v \+ θ\(α\) need 8\.8 GiB, more than the 6\.5 GiB GPU budget: only θ\(α\) \(3\.1 GiB\) stays on the GPU/);
    });
  }

  it('without shader-f16 θ(α) is f32: streaming on both 12 and 8 GB (8 bytes a parameter do not fit 10.8 GB), refused at 4 GiB', () => {
    for (const budget of [GB12, GB8]) {
      const p = plan('1.5B', LARGE, false, budget);
      expect(p).toMatchObject({ kind: 'streaming', compute: 'float32', bytes: PARAMS['1.5B'] * 4 + STAGING });
      expect(p.bytes).toBeLessThanOrEqual(GB8);
    }
    const p = plan('1.5B', LARGE, false, 4 * GiB);
    expect(p.kind).toBe('none');
    expect(p.reason).toBe('The merged model needs 5.9 GiB of GPU memory as F32, more than the 4.0 GiB budget; raise the budget if the GPU has the memory, or use a smaller model.');
    // Enough memory: v in f32, exact (10 bytes a parameter).
    expect(plan('1.5B', LARGE, false, GB24)).toMatchObject({ kind: 'resident', bytes: PARAMS['1.5B'] * 10 + STAGING, errors: [] });
  });

  it('exact exploration keeps v in f32 and streams when that does not fit', () => {
    const p = plan('1.5B', LARGE, true, GB12, { exact: true });
    expect(p.kind).toBe('streaming');
    expect(p.errors.map((e) => e.source)).toEqual(['θ(α) in f16 (shader-f16: onnxruntime computes in f16)']);
  });
});

describe('Qwen2.5-7B (untied head)', () => {
  it('streams on a 24 GB GPU with shader-f16; on WebGPU defaults embedding and head in 9 blocks and every MLP matrix in 2', () => {
    const p = plan('7B', DEFAULTS, true, GB24);
    expect(p).toMatchObject({ kind: 'streaming', bytes: PARAMS['7B'] * 2 + STAGING });
    expect(blocks(p, 'embed_tokens.weight')).toEqual([9]);
    expect(blocks(p, 'lm_head.weight')).toEqual([9]);
    // 18944 × 3584 in f16 is 129.5 MiB: just over 128 MiB.
    expect(blocks(p, 'mlp.gate_proj.weight')).toEqual(Array(28).fill(2));
    expect(blocks(p, 'mlp.down_proj.weight')).toEqual(Array(28).fill(2));
    expect(p.residency!.split).toHaveLength(2 + 3 * 28);
    expect(p.residency!.largestBufferBytes).toBeLessThanOrEqual(128 * MiB);
    expect(p.summary).toContain('86 weights are larger than one GPU buffer may be here (128.0 MiB) and held as row blocks (model.embed_tokens.weight ×9, model.layers.0.mlp.gate_proj.weight ×2, model.layers.0.mlp.up_proj.weight ×2, and 83 more)');
  });

  it('does not fit 12 GB even streaming, and says so', () => {
    const p = plan('7B', LARGE, true, GB12);
    expect(p.kind).toBe('none');
    expect(p.reason).toMatch(/^The merged model needs 14\.4 GiB of GPU memory as F16, more than the 10\.1 GiB budget/);
  });
});

describe('error bounds', () => {
  it('v in f16 or bf16 moves θ(α) by at most its rounding of α·v plus one ulp of θ(α)', () => {
    expect(thetaErrorBound({ vectorDtype: 'F32', outDtype: 'F32', alpha: 1, maxAbsV: 0.01, maxAbsTheta: 1 })).toBe(0);
    const f16 = thetaErrorBound({ vectorDtype: 'F16', outDtype: 'F32', alpha: 2, maxAbsV: 0.01, maxAbsTheta: 0.5 });
    expect(f16).toBeCloseTo(2 * (0.01 * 2 ** -11 + 2 ** -25) + 2 * 2 ** -24 * 0.5, 10);
    const bf16 = thetaErrorBound({ vectorDtype: 'BF16', outDtype: 'F32', alpha: 2, maxAbsV: 0.01, maxAbsTheta: 0.5 });
    expect(bf16).toBeGreaterThan(f16 * 7);
  });
});
