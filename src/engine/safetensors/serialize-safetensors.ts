/**
 * Pure safetensors writer (no Node APIs, so the browser can save merged checkpoints with it too).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON padded with spaces to a
 * multiple of 8 (so tensor data starts 8-byte aligned), then the tensor bytes back to back.
 */
import { dtypeByteSize } from './dtypes.ts';

export interface TensorToSerialize {
  name: string;
  /**
   * Normally 'BF16' | 'F16' | 'F32'. Any whole-byte dtype the format defines is accepted so that
   * test fixtures can write e.g. F8 tensors that the loader must refuse by name.
   */
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range relative to the first byte after the header. */
  data_offsets: [number, number];
}

const METADATA_KEY = '__metadata__';

/**
 * Builds the 8-byte length prefix plus the padded JSON header, entries in the order given.
 * Does no consistency checks on purpose: corrupt-file fixtures are built with it.
 */
export function safetensorsHeaderBytes(entries: HeaderEntry[], metadata?: Record<string, string>): Uint8Array {
  // No prototype: a tensor named "__proto__" must become a key, not silently vanish.
  const json: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) json[METADATA_KEY] = { ...metadata };
  for (const e of entries) json[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: e.data_offsets };
  return frameHeader(new TextEncoder().encode(JSON.stringify(json)));
}

/** Pads raw header bytes with spaces to a multiple of 8 and prepends the u64 length. */
export function frameHeader(headerJson: Uint8Array): Uint8Array {
  const padded = Math.ceil(headerJson.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + headerJson.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(headerJson, 8);
  return out;
}

/** Serializes tensors (sorted by name, for byte-identical output) into one safetensors file. */
export function serializeSafetensors(tensors: TensorToSerialize[], metadata?: Record<string, string>): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: HeaderEntry[] = [];
  let offset = 0;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i];
    if (t.name === METADATA_KEY) throw new Error(`tensor name "${METADATA_KEY}" is reserved by the format`);
    if (i > 0 && sorted[i - 1].name === t.name) throw new Error(`tensor "${t.name}" appears twice`);
    const expected = expectedByteLength(t);
    if (t.data.length !== expected) {
      throw new Error(
        `tensor "${t.name}": data has ${t.data.length} bytes but shape [${t.shape.join(', ')}] of ${t.dtype} needs ${expected}`,
      );
    }
    entries.push({ name: t.name, dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] });
    offset += expected;
  }

  const header = safetensorsHeaderBytes(entries, metadata);
  const out = new Uint8Array(header.length + offset);
  out.set(header, 0);
  let at = header.length;
  for (const t of sorted) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

function expectedByteLength(t: TensorToSerialize): number {
  const size = dtypeByteSize(t.dtype);
  if (size === undefined || !Number.isInteger(size)) {
    throw new Error(`tensor "${t.name}": dtype "${t.dtype}" is unknown or not a whole number of bytes`);
  }
  let count = 1;
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`tensor "${t.name}": bad dimension ${d} in shape`);
    count *= d;
  }
  return count * size;
}
