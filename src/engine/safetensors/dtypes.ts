/**
 * Safetensors dtype names. The merge engine computes in float32 and supports BF16, F16 and
 * F32 in and out (DESIGN "Merge semantics"); the other names are *recognised* so that a
 * checkpoint using them is refused by name instead of being called corrupt.
 */
export const SUPPORTED_DTYPES = ['BF16', 'F16', 'F32'] as const;
export type SupportedDtype = (typeof SUPPORTED_DTYPES)[number];

/** Every dtype the safetensors format defines, with its size in bytes (sub-byte types: fraction). */
export const KNOWN_DTYPE_BYTES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  F4: 0.5,
  F6_E2M3: 0.75,
  F6_E3M2: 0.75,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
});

export function isSupportedDtype(dtype: string): dtype is SupportedDtype {
  return (SUPPORTED_DTYPES as readonly string[]).includes(dtype);
}

export function dtypeByteSize(dtype: string): number | undefined {
  // Own keys only: "constructor", "toString", "__proto__" … are not dtypes.
  return Object.hasOwn(KNOWN_DTYPE_BYTES, dtype) ? KNOWN_DTYPE_BYTES[dtype] : undefined;
}
