import { SafetensorsError, UnsupportedDtypeError } from '../errors.ts';
import type { ByteFile } from '../sources/source.ts';
import { dtypeByteSize, isSupportedDtype, type SupportedDtype } from './dtypes.ts';
import { HEADER_LENGTH_PREFIX, MAX_HEADER_LENGTH, MAX_TENSOR_RANK } from './limits.ts';

export interface TensorEntry {
  name: string;
  dtype: SupportedDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file (header included). */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Length of the JSON header; tensor data starts at 8 + headerLength. */
  headerLength: number;
  metadata: Record<string, string>;
  tensors: TensorEntry[];
}

/**
 * Reads and validates the header of one safetensors file with two small ranged reads
 * (8 bytes, then the JSON) — never the tensor data. Every failure is a SafetensorsError
 * naming the file (and tensor), or an UnsupportedDtypeError for F8/integer tensors.
 */
export async function parseSafetensorsHeader(file: ByteFile, displayName = file.path): Promise<SafetensorsHeader> {
  const name = displayName;
  if (file.size < HEADER_LENGTH_PREFIX) {
    throw new SafetensorsError(name, `file is ${file.size} bytes, too short to hold a safetensors header; re-download it.`);
  }
  const prefix = await file.read(0, HEADER_LENGTH_PREFIX);
  const headerLength = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_LENGTH) {
    throw new SafetensorsError(
      name,
      `header length field says ${headerLength} bytes, above the ${MAX_HEADER_LENGTH}-byte limit: the file is corrupt or not safetensors.`,
    );
  }
  if (HEADER_LENGTH_PREFIX + headerLength > file.size) {
    throw new SafetensorsError(
      name,
      `header length field says ${headerLength} bytes, so header and prefix need ${HEADER_LENGTH_PREFIX + headerLength}, but the file has only ${file.size}: it is truncated or not safetensors; re-download it.`,
    );
  }
  const headerBytes = await file.read(HEADER_LENGTH_PREFIX, headerLength);
  return { ...validateHeader(name, file.size, headerLength, headerBytes), file: file.path };
}

/** Pure validation of header bytes, exported for property tests. */
export function validateHeader(path: string, fileSize: number, headerLength: number, headerBytes: Uint8Array): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(path, `header is not valid UTF-8 JSON (${(e as Error).message}); the file is corrupt.`);
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(path, 'header JSON is not an object; the file is corrupt.');
  }

  const dataStart = HEADER_LENGTH_PREFIX + headerLength;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];

  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = validateMetadata(path, value);
      continue;
    }
    if (!isPlainObject(value)) throw new SafetensorsError(path, 'entry is not an object.', name);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new SafetensorsError(path, 'has no dtype string.', name);
    const elementBytes = dtypeByteSize(dtype);
    if (elementBytes === undefined) {
      throw new SafetensorsError(path, `has unknown dtype "${dtype}"; the file is corrupt or from a newer format.`, name);
    }
    if (!Array.isArray(shape) || shape.length > MAX_TENSOR_RANK || !shape.every(isNonNegativeSafeInt)) {
      throw new SafetensorsError(path, `has an invalid shape ${describeJson(shape)}.`, name);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInt) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(path, `has invalid data_offsets ${describeJson(offsets)}.`, name);
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * elementBytes;
    if (expected !== end - begin) {
      throw new SafetensorsError(
        path,
        `shape ${JSON.stringify(shape)} × ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}; the file is corrupt.`,
        name,
      );
    }
    if (end > dataSize) {
      throw new SafetensorsError(
        path,
        `data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes); the file is truncated — re-download it.`,
        name,
      );
    }
    if (!isSupportedDtype(dtype)) throw new UnsupportedDtypeError(path, name, dtype);
    tensors.push({ name, dtype, shape: shape as number[], byteOffset: dataStart + begin, byteLength: end - begin });
  }

  const bySpan = [...tensors].sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  for (let i = 1; i < bySpan.length; i++) {
    const prev = bySpan[i - 1];
    const cur = bySpan[i];
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new SafetensorsError(path, `data overlaps tensor "${prev.name}"; the file is corrupt.`, cur.name);
    }
  }
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { file: path, fileSize, headerLength, metadata, tensors };
}

function validateMetadata(path: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(path, '__metadata__ must be an object of strings.');
  }
  return value as Record<string, string>;
}

/** A short JSON rendering for error messages; a value nested too deeply to print is not a crash. */
function describeJson(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = '(nested too deeply to print)';
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
