import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { openCheckpoint } from '../checkpoint/open-checkpoint.ts';
import { localFolderSource } from '../sources/local-folder-source.ts';
import { StudioTokenizer } from './tokenizer.ts';

let fx: FixtureDir;
beforeAll(() => (fx = makeFixtureDir()));
afterAll(() => fx?.cleanup());
const load = async (name: string) => StudioTokenizer.load(await openCheckpoint(await localFolderSource(fx.model(name))));

describe('StudioTokenizer on the fixture (Qwen2 byte-level BPE format)', () => {
  it('special tokens have their ids; merges apply; text round-trips', async () => {
    const t = await load('tiny-qwen2-target');
    expect(t.encode('<|im_start|>')).toEqual([283]);
    expect(t.encode('<|im_end|><|endoftext|>')).toEqual([284, 282]);
    // "Ġthe" is a merged token; "the" alone after a space encodes as one id, not four bytes.
    expect(t.encode(' the')).toHaveLength(1);
    for (const text of ['What is 12 + 7?', 'naïve café — ünïcödé ✓', 'line one\n\nline two', '   spaces  ']) {
      expect(t.decode(t.encode(text))).toBe(text);
    }
    // Digits are split one per token, as Qwen2's pre-tokenizer does.
    expect(t.encode('2024')).toHaveLength(4);
  });

  it('EOS ids come from generation_config.json; the ChatML template renders with a generation prompt', async () => {
    const t = await load('tiny-qwen2-target');
    expect(t.eosTokenIds).toContain(284);
    const prompt = t.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    expect(prompt).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(t.encode(prompt).slice(0, 1)).toEqual([283]);
    expect(t.decode(t.encode(prompt))).toBe('user\nHi\nassistant\n');
  });
});
