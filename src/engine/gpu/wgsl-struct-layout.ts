/**
 * Byte offsets of a WGSL struct's fields, read from the shader source itself so the
 * TypeScript side can never drift from the WGSL declaration. Only 4-byte scalars
 * (u32, i32, f32) are supported — all our uniform structs need.
 */
export interface StructLayout {
  size: number;
  offsets: Record<string, { offset: number; type: 'u32' | 'i32' | 'f32' }>;
}

export function wgslStructLayout(wgsl: string, name: string): StructLayout {
  const body = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(wgsl)?.[1];
  if (body === undefined) throw new Error(`struct ${name} not found in shader`);
  const offsets: StructLayout['offsets'] = {};
  let offset = 0;
  for (const line of body.split('\n')) {
    const m = /^\s*(\w+)\s*:\s*(\w+)\s*,/.exec(line.replace(/\/\/.*$/, ''));
    if (!m) continue;
    const type = m[2];
    if (type !== 'u32' && type !== 'i32' && type !== 'f32') throw new Error(`struct ${name}.${m[1]}: unsupported type ${type}`);
    offsets[m[1]] = { offset, type };
    offset += 4;
  }
  // Uniform buffers are 16-byte aligned in size.
  return { size: Math.ceil(offset / 16) * 16, offsets };
}

export function packStruct(layout: StructLayout, values: Record<string, number>): ArrayBuffer {
  const buf = new ArrayBuffer(layout.size);
  const view = new DataView(buf);
  for (const [field, { offset, type }] of Object.entries(layout.offsets)) {
    const v = values[field];
    if (v === undefined) throw new Error(`uniform field ${field} not given`);
    if (type === 'f32') view.setFloat32(offset, v, true);
    else if (type === 'i32') view.setInt32(offset, v, true);
    else view.setUint32(offset, v, true);
  }
  return buf;
}
