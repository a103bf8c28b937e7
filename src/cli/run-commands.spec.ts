import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../test-support/fixture-dir.ts';
import { referenceForward } from '../../test-support/reference-forward.ts';
import { readModelFolder, refConfigOf } from '../../test-support/read-safetensors.ts';
import { decode } from '../../test-support/merge-reference.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { cli } from '../../test-support/cli.ts';

let fx: FixtureDir;
let work: string;
let n = 0;
const tmp = (name: string) => join(work, `${++n}-${name}`);
beforeAll(() => {
  fx = makeFixtureDir();
  work = mkdtempSync(join(tmpdir(), 'cli-run-'));
});
afterAll(() => {
  fx?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A fixture folder copy with its config.json edited (or files removed). */
function variant(name: string, edit: (config: Record<string, unknown>) => void, remove: string[] = []): string {
  const dir = tmp(name);
  cpSync(fx.model(name), dir, { recursive: true });
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8'));
  edit(config);
  writeFileSync(path, JSON.stringify(config));
  for (const f of remove) unlinkSync(join(dir, f));
  return dir;
}

function reference(dir: string, ids: number[]) {
  const weights = new Map([...readModelFolder(dir)].map(([k, t]) => [k, Float64Array.from(decode(t.bytes, t.dtype as SupportedDtype))]));
  return referenceForward(refConfigOf(dir), weights, ids);
}

describe('studio forward', () => {
  it('writes {"shape":[T,V],"data":[…]} float32 logits of every position, matching the reference', async () => {
    const out = tmp('logits.json');
    const ids = [283, 10, 20, 30, 284];
    const r = await cli('forward', '--model', fx.model('tiny-qwen2-untied-target'), '--ids', ids.join(','), '--out', out);
    expect([r.code, r.stderr]).toEqual([0, []]);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.shape).toEqual([5, 288]);
    expect(json.data).toHaveLength(5 * 288);
    const want = reference(fx.model('tiny-qwen2-untied-target'), ids);
    let max = 0;
    want.forEach((row, t) => row.forEach((v, i) => (max = Math.max(max, Math.abs(json.data[t * 288 + i] - v)))));
    expect(max).toBeLessThan(1e-5);
  });

  it('the merge flags merge on the fly: same logits as running a folder saved by `studio merge --dtype f32`', async () => {
    const trio = ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target'), '--alpha', '2'];
    const onTheFly = tmp('a.json');
    const saved = tmp('merged');
    const fromSaved = tmp('b.json');
    expect((await cli('forward', ...trio, '--ids', '1,2,3,4', '--out', onTheFly, '--device', 'cpu')).code).toBe(0);
    expect((await cli('merge', ...trio, '--dtype', 'f32', '--out', saved, '--device', 'cpu')).code).toBe(0);
    expect((await cli('forward', '--model', saved, '--ids', '1,2,3,4', '--out', fromSaved)).code).toBe(0);
    expect(readFileSync(onTheFly, 'utf8')).toBe(readFileSync(fromSaved, 'utf8'));
    // And α matters: α = 0 is the target itself.
    const zero = tmp('z.json');
    const target = tmp('t.json');
    await cli('forward', ...trio.slice(0, -1), '0', '--ids', '1,2,3,4', '--out', zero, '--device', 'cpu');
    await cli('forward', '--model', fx.model('tiny-qwen2-target'), '--ids', '1,2,3,4', '--out', target);
    expect(readFileSync(zero, 'utf8')).toBe(readFileSync(target, 'utf8'));
    expect(readFileSync(zero, 'utf8')).not.toBe(readFileSync(onTheFly, 'utf8'));
  });
});

describe('studio generate', () => {
  it('--ids: greedy ids equal to decoding with the reference; text from the tokenizer; JSON on the last line', async () => {
    const dir = fx.model('tiny-qwen2-untied-target');
    const ids = [283, 40, 41, 42];
    const r = await cli('generate', '--model', dir, '--ids', ids.join(','), '--max-new-tokens', '4');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.at(-1)!);
    const seq = [...ids];
    for (let i = 0; i < 4; i++) {
      const logits = reference(dir, seq).at(-1)!;
      seq.push(logits.indexOf(Math.max(...logits)));
      if (seq.at(-1) === 284) break;
    }
    expect(out.ids).toEqual(seq.slice(ids.length));
    expect(typeof out.text).toBe('string');
  });

  it('--ids needs no tokenizer files: text is null', async () => {
    const dir = variant('tiny-qwen2-target', () => {}, ['tokenizer.json', 'tokenizer_config.json']);
    const r = await cli('generate', '--model', dir, '--ids', '5,6,7', '--max-new-tokens', '3');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.at(-1)!);
    expect(out.text).toBeNull();
    expect(out.ids.length).toBeGreaterThan(0);
    const prompt = await cli('generate', '--model', dir, '--prompt', 'hi', '--max-new-tokens', '3');
    expect(prompt.code).toBe(2);
    expect(prompt.stderr[0]).toMatch(/tokenizer\.json: is missing|tokenizer\.json.*missing/);
  });

  it('--prompt with --chat goes through the chat template', async () => {
    const r = await cli('generate', '--model', fx.model('tiny-qwen2-target'), '--prompt', 'Hi', '--chat', '--max-new-tokens', '2');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.at(-1)!);
    expect(out.prompt_ids[0]).toBe(283);
    // <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n: two im_start, one im_end, ending in a newline.
    expect(out.prompt_ids.filter((x: number) => x === 283)).toHaveLength(2);
    expect(out.prompt_ids.filter((x: number) => x === 284)).toHaveLength(1);
    expect(out.prompt_ids.at(-1)).toBe(198);
  });

  it('bad input: exit 2 with one line naming the problem, before anything runs', async () => {
    const model = ['--model', fx.model('tiny-qwen2-target')];
    const cases: Array<[string[], RegExp]> = [
      [['generate', ...model, '--ids', '1,288', '--max-new-tokens', '2'], /token id 288 is outside the vocabulary \(0 … 287\)/],
      [['generate', ...model, '--ids', '1,x', '--max-new-tokens', '2'], /--ids must be comma-separated token ids/],
      [['generate', ...model, '--ids', '1'], /--max-new-tokens is required/],
      [['generate', ...model, '--ids', Array(120).fill(1).join(','), '--max-new-tokens', '20'], /exceeds max_position_embeddings \(128\)/],
      [['generate', ...model, '--sft', fx.model('tiny-qwen2-sft'), '--ids', '1', '--max-new-tokens', '1'], /either --model <src> or the merge flags/],
      [['forward', '--model', variant('tiny-qwen2-target', (c) => (c.architectures = ['GPT2LMHeadModel'])), '--ids', '1', '--out', tmp('x')], /architecture GPT2LMHeadModel cannot be run yet; supported: Qwen2ForCausalLM/],
      [['forward', '--model', variant('tiny-qwen2-target', (c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 })), '--ids', '1', '--out', tmp('x')], /rope scaling type "yarn" is not supported/],
      [['forward', '--model', variant('tiny-qwen2-target', (c) => (c.num_hidden_layers = 3)), '--ids', '1', '--out', tmp('x')], /config\.json describes 3 layers but the weights have no "model\.layers\.2\.input_layernorm\.weight"/],
      [['forward', '--model', variant('tiny-qwen2-target', (c) => (c.intermediate_size = 48)), '--ids', '1', '--out', tmp('x')], /tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[32, 16\] but config\.json implies \[48, 16\]/],
    ];
    for (const [argv, msg] of cases) {
      const r = await cli(...argv);
      expect([r.code, r.stderr.length], argv.join(' ')).toEqual([2, 1]);
      expect(r.stderr[0], argv.join(' ')).toMatch(msg);
    }
  });
});

describe('output paths', () => {
  it('forward --out in a missing folder, or naming a folder: exit 2 before the model is built; a good one leaves no temp file', async () => {
    const model = ['--model', fx.model('tiny-qwen2-target'), '--ids', '1,2'];
    const missing = await cli('forward', ...model, '--out', join(work, 'no-such-dir', 'x.json'));
    expect([missing.code, missing.stderr.length]).toEqual([2, 1]);
    expect(missing.stderr[0]).toMatch(/the folder .*no-such-dir does not exist; create it first/);
    const folder = await cli('forward', ...model, '--out', work);
    expect([folder.code, folder.stderr.length]).toEqual([2, 1]);
    expect(folder.stderr[0]).toMatch(/is a folder; name a file/);
    const dir = tmp('out-dir');
    mkdirSync(dir);
    expect((await cli('forward', ...model, '--out', join(dir, 'l.json'))).code).toBe(0);
    expect(readdirSync(dir)).toEqual(['l.json']);
  });

  it('merge --out under a file: exit 2 with one line; generate --stop "": exit 2', async () => {
    const file = tmp('plain-file');
    writeFileSync(file, 'x');
    const r = await cli('merge', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target'), '--alpha', '1', '--out', join(file, 'merged'), '--device', 'cpu');
    expect([r.code, r.stderr.length]).toEqual([2, 1]);
    expect(r.stderr[0]).toMatch(/cannot (create its folder|write next to it)/);
    const stop = await cli('generate', '--model', fx.model('tiny-qwen2-target'), '--ids', '1', '--max-new-tokens', '2', '--stop', '');
    expect([stop.code, stop.stderr]).toEqual([2, ['studio generate: --stop needs a non-empty string.']]);
  });
});
