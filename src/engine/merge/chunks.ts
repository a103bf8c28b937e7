import type { PlannedTensor } from './merge-plan.ts';

/**
 * The one chunk iterator of the merge: every consumer of a plan (the safetensors writer, the
 * GPU-resident θ(α), the host arrays of the CPU model) walks tensors in these pieces, so a chunk
 * boundary means the same thing everywhere.
 */

export interface Chunk {
  tensor: PlannedTensor;
  /** Position of `tensor` in the list the chunks were made from. */
  index: number;
  /** First element of the chunk within the tensor. */
  start: number;
  count: number;
  /** merged: receives α·v (or is the vector); kept: the target's elements, cast to the output dtype. */
  kind: 'merged' | 'kept';
  /** The tensor's last chunk in this iteration. */
  last: boolean;
}

export interface ChunkSelection {
  /** The leading `mergedElements` of each tensor. */
  merged: boolean;
  /** The rest, copied from the target. */
  kept: boolean;
}

/**
 * Chunks of at most `chunkElements` elements, tensor by tensor in order, merged parts before kept
 * parts. A tensor with no elements at all still yields one empty kept chunk when kept parts are
 * asked for, so a writer sees every tensor exactly once.
 */
export function* chunksOf(tensors: readonly PlannedTensor[], chunkElements: number, select: ChunkSelection): Generator<Chunk> {
  if (!(chunkElements >= 1)) throw new RangeError(`chunk size must be at least 1 element, got ${chunkElements}`);
  for (let index = 0; index < tensors.length; index++) {
    const tensor = tensors[index];
    const parts: Array<Omit<Chunk, 'last'>> = [];
    const cut = (kind: Chunk['kind'], from: number, to: number) => {
      for (let start = from; start < to; start += chunkElements) parts.push({ tensor, index, start, count: Math.min(chunkElements, to - start), kind });
    };
    if (select.merged) cut('merged', 0, tensor.mergedElements);
    if (select.kept) cut('kept', tensor.mergedElements, tensor.elements);
    if (select.kept && tensor.elements === 0) parts.push({ tensor, index, start: 0, count: 0, kind: 'kept' });
    for (let i = 0; i < parts.length; i++) yield { ...parts[i], last: i === parts.length - 1 };
  }
}

/** "name" for a whole tensor (or its whole merged part), "name [a, b)" for a piece: what GPU labels and error messages show. */
export function chunkLabel(c: Pick<Chunk, 'tensor' | 'start' | 'count' | 'kind'>): string {
  const whole = c.kind === 'merged' ? c.tensor.mergedElements : c.tensor.elements - c.tensor.mergedElements;
  return c.count === whole ? c.tensor.name : `${c.tensor.name} [${c.start}, ${c.start + c.count})`;
}
