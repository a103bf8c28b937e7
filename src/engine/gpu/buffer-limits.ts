import { StudioError, formatBytes } from '../errors.ts';

/**
 * How big one GPU buffer may be for a weight, and how a weight too big for that is cut into row
 * blocks. The merge (resident-merge.ts) writes each block into its own buffer and the decoder
 * graph (decoder-graph.ts) takes each block as its own input: both read the layout from here, so
 * a block means the same rows everywhere.
 */

export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize?: number;
}

/**
 * What every WebGPU adapter grants, and what a device gets when it is created without
 * `requiredLimits`: 256 MiB per buffer, 128 MiB per storage binding. A Qwen2.5-0.5B embedding is
 * 519 MiB in f32 (260 MiB even in f16), so a real model needs blocks on such a device.
 */
export const WEBGPU_DEFAULT_LIMITS = { maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 } as const;

/**
 * The largest buffer one weight (or one block of it) may have: the merge kernel and onnxruntime
 * bind each weight buffer whole as a storage buffer, so both limits apply. `cap` lowers it further
 * (tests force small blocks on any device with it).
 */
export function maxWeightBufferBytes(limits: BufferLimits, cap?: number): number {
  const binding = limits.maxStorageBufferBindingSize ?? limits.maxBufferSize;
  const bytes = Math.min(binding, limits.maxBufferSize, cap ?? Infinity);
  // Buffers are sized in whole 4-byte words (16-bit tensors travel as u32 pairs).
  return bytes - (bytes % 4);
}

export interface RowBlock {
  /** First row of the block. */
  start: number;
  rows: number;
}

/** A tensor whose single row is already larger than one buffer may be: no split can help. */
export class TensorTooLargeError extends StudioError {}

/**
 * Row blocks of a [rows, ...] tensor with `bytesPerElement`-byte elements, each at most `maxBytes`
 * (padded to 4 bytes), as equal as possible; one block when the whole tensor fits. 1-D tensors
 * split by elements (a row is one element).
 */
export function rowBlocks(name: string, shape: readonly number[], bytesPerElement: number, maxBytes: number): RowBlock[] {
  const rows = shape.length ? shape[0] : 1;
  const rowElements = shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = rowElements * bytesPerElement;
  const pad4 = (n: number) => Math.ceil(n / 4) * 4;
  if (pad4(rows * rowBytes) <= maxBytes) return [{ start: 0, rows }];
  // Rows per block so that the padded block fits (a 16-bit row of odd length pads by 2 bytes).
  const rowsMax = Math.floor((maxBytes - 2) / rowBytes);
  if (rowsMax < 1) {
    throw new TensorTooLargeError(
      `${name}: one row of shape [${shape.join(', ')}] is ${formatBytes(rowBytes)}, more than the ${formatBytes(maxBytes)} this GPU allows per buffer; the tensor cannot be split into buffers this device accepts.`,
    );
  }
  const count = Math.ceil(rows / rowsMax);
  const per = Math.ceil(rows / count);
  const blocks: RowBlock[] = [];
  for (let start = 0; start < rows; start += per) blocks.push({ start, rows: Math.min(per, rows - start) });
  return blocks;
}

/** The graph input (and GPU buffer label) of block `index` of a split weight. */
export function rowBlockName(tensor: string, index: number): string {
  return `${tensor}.rows_block_${index}`;
}
