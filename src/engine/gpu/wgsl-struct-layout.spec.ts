import { describe, expect, it } from 'vitest';
import mergeShader from '../../../shaders/task-vector-merge.wgsl?raw';
import statsShader from '../../../shaders/vector-stats.wgsl?raw';
import { thrown } from '../../../test-support/rejection.ts';
import { packStruct, wgslStructLayout, WgslLayoutError, type StructLayout } from './wgsl-struct-layout.ts';

/**
 * Expected offsets and sizes are worked out by hand from WGSL's alignment-and-size table
 * (scalars 4/4; vec2 align 8 size 8; vec3 align 16 size 12; vec4 align 16 size 16;
 * array<E, N>: stride roundUp(align E, size E); struct: size rounded up to its largest alignment).
 */
const offsets = (l: StructLayout) => Object.fromEntries(Object.entries(l.fields).map(([k, f]) => [k, f.offset]));

describe('wgslStructLayout', () => {
  it('reads a last field that has no trailing comma', () => {
    const l = wgslStructLayout('struct P { a: u32, b: f32 }', 'P');
    expect(offsets(l)).toEqual({ a: 0, b: 4 });
    expect(l.size).toBe(8);
  });

  it('reads two fields on one line (and comments between them)', () => {
    const l = wgslStructLayout('struct P {\n  a: u32, b: f32, // two here\n  /* block */ c: i32,\n}', 'P');
    expect(offsets(l)).toEqual({ a: 0, b: 4, c: 8 });
    expect(l.size).toBe(12);
  });

  it('lays out vector types by their alignment (the spec example struct A: 0, 4, 8, 16; size 24)', () => {
    const spec = wgslStructLayout('struct A { u: f32, v: f32, w: vec2<f32>, x: f32 }', 'A');
    expect(offsets(spec)).toEqual({ u: 0, v: 4, w: 8, x: 16 });
    expect([spec.size, spec.align]).toEqual([24, 8]);

    const l = wgslStructLayout('struct P { a: f32, b: vec3f, c: f32, d: vec2<u32>, e: vec4<i32>, f: vec2i }', 'P');
    // b aligns to 16 and ends at 28, so c packs into its tail; e aligns to 16 after d ends at 40.
    expect(offsets(l)).toEqual({ a: 0, b: 16, c: 28, d: 32, e: 48, f: 64 });
    expect([l.size, l.align]).toEqual([80, 16]);
    expect(l.fields.b).toMatchObject({ size: 12, align: 16, scalar: 'f32', components: 3 });
  });

  it('lays out fixed-size arrays with the element stride', () => {
    const l = wgslStructLayout('struct P { a: u32, b: array<f32, 3>, c: array<vec3f, 2>, d: u32, e: array<vec2<u32>, 2u> }', 'P');
    // b: stride 4 → [4, 16); c: vec3 elements have stride 16 → [16, 48); e: stride 8, align 8 → [56, 72).
    expect(offsets(l)).toEqual({ a: 0, b: 4, c: 16, d: 48, e: 56 });
    expect(l.fields.c).toMatchObject({ size: 32, stride: 16, length: 2, components: 3 });
    expect(l.size).toBe(80);
  });

  it('packs scalars, vectors and arrays at those offsets', () => {
    const l = wgslStructLayout('struct P { a: u32, b: array<vec3f, 2>, c: i32, d: vec2f }', 'P');
    const bytes = new DataView(packStruct(l, { a: 7, b: [1, 2, 3, 4, 5, 6], c: -2, d: [0.5, 0.25] }));
    // a [0, 4); b [16, 48) in two 16-byte strides; c [48, 52); d aligns to 8 → [56, 64).
    expect(bytes.byteLength).toBe(64);
    expect(bytes.getUint32(0, true)).toBe(7);
    expect([16, 20, 24, 32, 36, 40].map((o) => bytes.getFloat32(o, true))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(bytes.getInt32(48, true)).toBe(-2);
    expect([56, 60].map((o) => bytes.getFloat32(o, true))).toEqual([0.5, 0.25]);
    // Padding stays zero.
    expect([4, 8, 12, 28, 44, 52].map((o) => bytes.getUint32(o, true))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('reads the kernels\' own Params structs (32-bit fields in order, size 32)', () => {
    const merge = wgslStructLayout(mergeShader, 'Params');
    expect(offsets(merge)).toEqual({ count: 0, alpha: 4, target_dtype: 8, sft_dtype: 12, rl_dtype: 16, out_dtype: 20, mode: 24, row_pitch: 28 });
    expect(merge.size).toBe(32);
    const stats = wgslStructLayout(statsShader, 'Params');
    expect(Object.keys(stats.fields)).toEqual(['count', 'target_dtype', 'sft_dtype', 'rl_dtype', 'has_target', 'near_zero', 'stride', '_pad']);
    expect(stats.size).toBe(32);
  });

  it('refuses what it cannot read, naming the struct and member', () => {
    const refuse = (src: string) => thrown(WgslLayoutError, () => wgslStructLayout(src, 'P')).message;
    expect(refuse('struct P {\n  a: u32\n  b: f32\n}')).toMatch(/struct P: cannot read the member "a: u32 b: f32"/);
    expect(refuse('struct P { @align(16) a: u32 }')).toMatch(/cannot read the member "@align\(16\) a: u32"/);
    expect(refuse('struct P { a: mat2x2<f32> }')).toMatch(/struct P\.a: type "mat2x2<f32>" is not supported/);
    expect(refuse('struct P { a: f16 }')).toMatch(/struct P\.a: type "f16" is not supported/);
    expect(refuse('struct P { a: vec2h }')).toMatch(/struct P\.a: type "vec2h" is not supported/);
    expect(refuse('struct P { a: Q }')).toMatch(/type "Q" is not supported/);
    expect(refuse('struct P { a: array<f32> }')).toMatch(/type "array<f32>" is not supported/);
    expect(refuse('struct P { a: atomic<u32> }')).toMatch(/type "atomic<u32>" is not supported/);
    expect(refuse('struct P { a: u32,, b: u32 }')).toMatch(/cannot read the member ""/);
    expect(refuse('struct P { a: u32, a: f32 }')).toMatch(/member a declared twice/);
    expect(refuse('struct P { }')).toMatch(/no members/);
    expect(refuse('struct Q { a: u32 }')).toMatch(/struct P: not found/);
  });

  it('refuses to pack a missing, unknown or wrongly sized value', () => {
    const l = wgslStructLayout('struct P { a: u32, b: vec2f }', 'P');
    expect(thrown(WgslLayoutError, () => packStruct(l, { a: 1 })).message).toBe('struct P.b not given');
    expect(thrown(WgslLayoutError, () => packStruct(l, { a: 1, b: [1, 2], c: 3 })).message).toBe('struct P has no field c');
    expect(thrown(WgslLayoutError, () => packStruct(l, { a: 1, b: [1] })).message).toBe('struct P.b takes 2 value(s), got 1');
  });
});
