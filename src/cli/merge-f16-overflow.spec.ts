/**
 * `studio merge --dtype f16` through the door: a merged value beyond f16's range (|x| >= 65520)
 * is written as ±Inf, and the Inf count the command warns about and reports is the count in the
 * file written — not the count of the float32 results before the cast (which had none).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { studioBinary } from '../../test-support/cli.ts';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { readSafetensorsFile } from '../../test-support/read-safetensors.ts';

let fx: FixtureDir;
let work: string;
let studio: ReturnType<typeof studioBinary>;

beforeAll(() => {
  fx = makeFixtureDir('studio-merge-f16-');
  work = mkdtempSync(join(tmpdir(), 'studio-merge-f16-'));
  studio = studioBinary(join(work, 'cache'), { timeout: 120_000 });
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

/** The ±Inf among a tensor's 16-bit values, from their bits (f16: exponent 0x7c00, mantissa 0). */
function f16Infs(bytes: Uint8Array): { pos: number; neg: number } {
  const words = new Uint16Array(bytes.slice().buffer);
  return { pos: words.filter((w) => w === 0x7c00).length, neg: words.filter((w) => w === 0xfc00).length };
}

describe('studio merge --dtype f16: values that overflow f16 are counted as the Inf they are written as', () => {
  it('RL embedding values of ±100000 (θ(1) ≈ ±100000 > 65504): one warning line with 24 Inf, nonFinite says 24, the file holds 24 Inf; bf16 output holds them finite and warns of nothing', async () => {
    // The RL donor's first 24 embedding values set to +100000 (16) and −100000 (8); the SFT and
    // target values there are small (|x| < 1), so θ(1) = target + (RL − SFT) is about ±100000.
    const rl = join(work, 'big-rl');
    cpSync(fx.model('tiny-qwen2-rl'), rl, { recursive: true });
    const file = join(rl, 'model.safetensors');
    const bytes = readFileSync(file);
    const header = 8 + Number(bytes.readBigUInt64LE(0));
    const entries = JSON.parse(bytes.subarray(8, header).toString('utf8')) as Record<string, { dtype?: string; data_offsets?: [number, number] }>;
    expect(Object.keys(entries).filter((k) => entries[k].data_offsets?.[0] === 0)).toEqual(['model.embed_tokens.weight']);
    expect(entries['model.embed_tokens.weight'].dtype).toBe('BF16');
    // bf16 100000 ≈ 0x47C3 (99840), −100000 ≈ 0xC7C3.
    for (let i = 0; i < 24; i++) bytes.writeUInt16LE(i < 16 ? 0x47c3 : 0xc7c3, header + 2 * i);
    writeFileSync(file, bytes);
    const trio = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', rl, '--target', fx.model('tiny-qwen2-target'), '--alpha', '1', '--device', 'cpu'];

    const out = join(work, 'merged-f16');
    const r = await studio('merge', ...trio, '--dtype', 'f16', '--out', out);
    expect([r.code, r.stderr]).toEqual([0, 'warning: model.embed_tokens.weight: 0 NaN and 24 Inf values in the output.\n']);
    expect(lastJson(r.stdout).nonFinite).toEqual([{ tensor: 'model.embed_tokens.weight', nan: 0, inf: 24 }]);
    // Independently, from the file's bits: the 24 values are ±Inf, 16 positive and 8 negative.
    const embed = readSafetensorsFile(join(out, 'model.safetensors')).tensors.get('model.embed_tokens.weight')!;
    expect(embed.dtype).toBe('F16');
    expect(f16Infs(embed.bytes)).toEqual({ pos: 16, neg: 8 });
    expect(f16Infs(embed.bytes.subarray(0, 32))).toEqual({ pos: 16, neg: 0 });

    // bf16 reaches 3.4e38: the same merge as bf16 holds ±99840-ish values and says nothing.
    const bf16 = await studio('merge', ...trio, '--dtype', 'bf16', '--out', join(work, 'merged-bf16'));
    expect([bf16.code, bf16.stderr]).toEqual([0, '']);
    expect(lastJson(bf16.stdout).nonFinite ?? []).toEqual([]);
  }, 180_000);
});
