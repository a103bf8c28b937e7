import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { rejection } from '../../../test-support/rejection.ts';
import { readElements } from './merge-plan.ts';

/** A checkpoint whose reads answer with `short` fewer bytes than asked (a server cutting answers short). */
function ckpt(short: number): Checkpoint {
  return {
    source: { label: 'demo:flaky', kind: 'files' },
    async readTensorBytes(_name: string, offset = 0, length = 0) {
      return new Uint8Array(Math.max(0, length - short)).map((_, i) => (offset + i) & 0xff);
    },
  } as unknown as Checkpoint;
}

describe('readElements', () => {
  it('reads elements [start, start + count) of a row block at its offset into the stored tensor', async () => {
    const bytes = await readElements({ ckpt: ckpt(0), name: 'w', dtype: 'BF16', shape: [4, 8], offset: 16 }, 2, 3);
    expect([...bytes]).toEqual([36, 37, 38, 39, 40, 41]);
  });

  it('refuses a short answer instead of handing the sinks fewer bytes than the chunk (a GPU upload would keep the last chunk\'s)', async () => {
    const e = await rejection(readElements({ ckpt: ckpt(6), name: 'model.norm.weight', dtype: 'F32', shape: [64] }, 0, 64));
    expect(e.message).toBe('demo:flaky: reading 256 bytes of tensor "model.norm.weight" gave 250; the source answered short (a dropped connection or a failing server or disk). Try again.');
  });
});
