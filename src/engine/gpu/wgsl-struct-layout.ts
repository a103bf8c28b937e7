/**
 * Byte layout of a WGSL struct, read from the shader source itself so the TypeScript side can
 * never drift from the WGSL declaration, with WGSL's alignment and size rules
 * (https://www.w3.org/TR/WGSL/#alignment-and-size).
 *
 * The parser reads what our uniform structs use — 32-bit scalars (u32, i32, f32), vectors of them
 * (vec2/3/4 in both spellings: `vec3<f32>`, `vec3f`) and fixed-size arrays of either — and throws
 * on anything else (attributes such as @align/@size, matrices, f16, atomics, nested structs,
 * runtime-sized arrays) instead of skipping it. An earlier line-by-line version silently dropped a
 * last field without a trailing comma, a second field on the same line and every vector, which
 * shifted the fields after them. (webgpu-utils does this job, but its 2.x needs Float16Array,
 * which Node 20 lacks, and its 1.x needs the WebGPU globals just to read a struct.)
 */

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface FieldLayout {
  offset: number;
  /** SizeOf(T) in bytes. */
  size: number;
  /** AlignOf(T) in bytes. */
  align: number;
  scalar: ScalarType;
  /** Scalars per element: 1 for a scalar, N for vecN. */
  components: number;
  /** Array length; absent for a scalar or vector. */
  length?: number;
  /** Bytes from one array element to the next (roundUp(align, size) of the element). */
  stride: number;
}

export interface StructLayout {
  name: string;
  /** SizeOf(struct): the last field's end rounded up to the struct's alignment. */
  size: number;
  align: number;
  /** In declaration order. */
  fields: Record<string, FieldLayout>;
}

/** Thrown for a struct the parser cannot read: a programming error in a shader, not user input. */
export class WgslLayoutError extends Error {}

const SCALARS: readonly string[] = ['u32', 'i32', 'f32'];
const SHORT_VECTOR: Record<string, ScalarType> = { f: 'f32', i: 'i32', u: 'u32' };

interface TypeLayout {
  size: number;
  align: number;
  scalar: ScalarType;
  components: number;
  length?: number;
  stride: number;
}

const roundUp = (k: number, n: number) => Math.ceil(n / k) * k;

function typeLayout(type: string, where: string): TypeLayout {
  const t = type.replace(/\s+/g, '');
  if (SCALARS.includes(t)) return { size: 4, align: 4, scalar: t as ScalarType, components: 1, stride: 4 };
  const vec = /^vec([234])(?:<(\w+)>|([fiu]))$/.exec(t);
  if (vec) {
    const n = Number(vec[1]);
    const scalar = vec[2] ?? SHORT_VECTOR[vec[3]];
    if (!SCALARS.includes(scalar)) throw new WgslLayoutError(`${where}: vector of ${scalar} is not supported (only u32, i32, f32)`);
    // vec2: align 8, size 8; vec3: align 16, size 12; vec4: align 16, size 16.
    return { size: 4 * n, align: n === 2 ? 8 : 16, scalar: scalar as ScalarType, components: n, stride: 4 };
  }
  const arr = /^array<(.+),(\d+)[ui]?>$/.exec(t);
  if (arr) {
    const element = typeLayout(arr[1], where);
    if (element.length !== undefined) throw new WgslLayoutError(`${where}: nested arrays are not supported`);
    const length = Number(arr[2]);
    if (length < 1) throw new WgslLayoutError(`${where}: array length must be at least 1`);
    const stride = roundUp(element.align, element.size);
    return { size: length * stride, align: element.align, scalar: element.scalar, components: element.components, length, stride };
  }
  throw new WgslLayoutError(`${where}: type "${type.trim()}" is not supported (u32, i32, f32, vecN of them, array<…, N> of those)`);
}

/** The struct's body with comments removed, or throws if the struct is not declared exactly once. */
function structBody(wgsl: string, name: string): string {
  const code = wgsl.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, '');
  const decl = new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`, 'g');
  const found = [...code.matchAll(decl)];
  if (found.length !== 1) throw new WgslLayoutError(`struct ${name}: ${found.length ? 'declared more than once' : 'not found in the shader'}`);
  return found[0][1];
}

/** Splits a struct body at the commas that separate members (not those inside `array<…, N>`). */
function members(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  // One empty piece after a trailing comma is allowed; any other empty piece is a stray comma.
  if (out.length > 1 && out[out.length - 1].trim() === '') out.pop();
  return out;
}

export function wgslStructLayout(wgsl: string, name: string): StructLayout {
  const body = structBody(wgsl, name);
  if (body.trim() === '') throw new WgslLayoutError(`struct ${name}: no members`);
  const fields: Record<string, FieldLayout> = {};
  let end = 0;
  let align = 1;
  for (const member of members(body)) {
    const m = /^\s*([A-Za-z_]\w*)\s*:\s*([^:]+?)\s*$/.exec(member);
    if (!m) throw new WgslLayoutError(`struct ${name}: cannot read the member "${member.trim().replace(/\s+/g, ' ')}" (one "name: type" per comma)`);
    const [, field, type] = m;
    if (field in fields) throw new WgslLayoutError(`struct ${name}: member ${field} declared twice`);
    const t = typeLayout(type, `struct ${name}.${field}`);
    const offset = roundUp(t.align, end);
    fields[field] = { offset, ...t };
    end = offset + t.size;
    align = Math.max(align, t.align);
  }
  return { name, size: roundUp(align, end), align, fields };
}

/**
 * The bytes of one struct value. Every field must be given — a scalar as a number, a vector or
 * array as a flat list of all its scalars — and no other name, so a renamed WGSL field cannot be
 * silently left at zero.
 */
export function packStruct(layout: StructLayout, values: Record<string, number | readonly number[]>): ArrayBuffer {
  const unknown = Object.keys(values).filter((k) => !(k in layout.fields));
  if (unknown.length) throw new WgslLayoutError(`struct ${layout.name} has no field ${unknown.join(', ')}`);
  const buf = new ArrayBuffer(layout.size);
  const view = new DataView(buf);
  for (const [field, f] of Object.entries(layout.fields)) {
    const v = values[field];
    if (v === undefined) throw new WgslLayoutError(`struct ${layout.name}.${field} not given`);
    const scalars = typeof v === 'number' ? [v] : v;
    const count = f.components * (f.length ?? 1);
    if (scalars.length !== count) throw new WgslLayoutError(`struct ${layout.name}.${field} takes ${count} value(s), got ${scalars.length}`);
    scalars.forEach((x, i) => {
      const at = f.offset + Math.floor(i / f.components) * f.stride + (i % f.components) * 4;
      if (f.scalar === 'f32') view.setFloat32(at, x, true);
      else if (f.scalar === 'i32') view.setInt32(at, x, true);
      else view.setUint32(at, x, true);
    });
  }
  return buf;
}
