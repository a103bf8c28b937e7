import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test-support/rejection.ts';
import { typicalSweepDocument } from '../../../test-support/sweep-document.ts';
import {
  MAX_DOCUMENT_BYTES,
  ResultsDocumentError,
  base64urlToBytes,
  bytesToBase64url,
  decodeVerdicts,
  encodeVerdicts,
  parseResultsDocument,
  validateResultsDocument,
  type SweepResultsDocument,
} from './results-document.ts';

const clone = (d: SweepResultsDocument) => JSON.parse(JSON.stringify(d)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const refusal = (value: unknown, o: Parameters<typeof validateResultsDocument>[1] = {}) => thrown(ResultsDocumentError, () => validateResultsDocument(value, o));

describe('validateResultsDocument', () => {
  it('accepts a typical document and returns it unchanged', () => {
    const doc = typicalSweepDocument({ verdicts: true });
    expect(validateResultsDocument(clone(doc))).toEqual(doc);
  });

  it('refuses another version, saying when the document is newer', () => {
    const d = clone(typicalSweepDocument());
    d.version = 2;
    const e = refusal(d, { origin: 'the share URL' });
    expect(e.reason).toBe('version');
    expect(e.message).toBe('the share URL: version: is 2; this studio reads version 1 — the document was made by a newer studio; open it there.');
    delete d.version;
    expect(refusal(d).message).toBe('the results document: version: is missing; this studio reads version 1.');
  });

  it('refuses something that is not a sweep document', () => {
    expect(refusal([]).message).toBe('the results document: is not a JSON object.');
    const e = refusal({ results: {}, version: 1 });
    expect([e.reason, e.path]).toEqual(['schema', 'format']);
  });

  it('refuses unknown keys, naming them', () => {
    const d = clone(typicalSweepDocument());
    d.tasks[1].selection.extra = 1;
    const e = refusal(d);
    expect([e.reason, e.path]).toEqual(['schema', 'tasks.1.selection.extra']);
    expect(e.message).toContain('unknown key');
  });

  it('refuses a missing field, naming it', () => {
    const d = clone(typicalSweepDocument());
    delete d.points[2].total;
    expect(refusal(d).message).toBe('the results document: points.2.total: is missing.');
  });

  it('refuses wrong types and out-of-range numbers, naming the field', () => {
    const cases: [(d: Record<string, any>) => void, string][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(d) => (d.points[3].correct = '5'), 'points.3.correct'],
      [(d) => (d.points[3].correct = -1), 'points.3.correct'],
      [(d) => (d.points[3].total = 0.5), 'points.3.total'],
      [(d) => (d.points[0].series = 'w'), 'points.0.series'],
      [(d) => (d.points[0].condition = 'think'), 'points.0.task'],
      [(d) => (d.alphas[2] = null), 'alphas.2'],
      [(d) => (d.alphas = []), 'alphas'],
      [(d) => (d.controls.random_vector_seed = 2 ** 32), 'controls.random_vector_seed'],
      [(d) => (d.sources.rl.revision = 'main'), 'sources.rl.revision'],
      [(d) => (d.generation.greedy = false), 'generation.greedy'],
      [(d) => (d.tasks[0].task = 'GSM8K'), 'tasks.0.task'],
    ];
    for (const [spoil, path] of cases) {
      const d = clone(typicalSweepDocument());
      spoil(d);
      const e = refusal(d);
      expect([e.reason, e.path], path).toEqual(['schema', path]);
    }
  });

  it('refuses points that do not add up with the rest of the document', () => {
    const cases: [(d: Record<string, any>) => void, string, string][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(d) => (d.points[0].correct = 101), 'points.0.correct', '101 correct out of 100.'],
      [(d) => (d.points[0].alpha = 0.3), 'points.0.alpha', 'series v needs an α from the grid (got 0.3).'],
      [(d) => (d.points[d.points.length - 1].alpha = 0), `points.${typicalSweepDocument().points.length - 1}.alpha`, 'the reference series target has no α (null).'],
      [(d) => (d.alphas = [...d.alphas].reverse()), 'alphas.1', 'the α grid must be ascending without repeats.'],
      [(d) => d.points.push({ ...d.points[0] }), `points.${typicalSweepDocument().points.length}`, 'repeats the point (v, α -1, gsm8k_cot, plain, exact_match,strict-match).'],
      [(d) => (d.points[0].task = 'sciq_x'), 'points.0.task', 'names sciq_x under plain, which the document\'s tasks do not list.'],
      [(d) => (d.controls.random_vector_seed = null), 'points.66.series', 'a control point needs controls.random_vector_seed.'],
      [(d) => (d.tasks[0].selection.seed = null), 'tasks.0.selection.seed', 'a shuffled selection needs its seed.'],
    ];
    for (const [spoil, path, detail] of cases) {
      const d = clone(typicalSweepDocument());
      spoil(d);
      const e = refusal(d);
      expect([e.reason, e.path, e.message], path).toEqual(['schema', path, `the results document: ${path}: ${detail}`]);
    }
  });

  it('refuses verdict bits that disagree with the counts', () => {
    const d = clone(typicalSweepDocument({ verdicts: true }));
    d.points[5].correct += 1;
    expect(refusal(d).message).toMatch(/^the results document: points\.5\.verdicts: holds \d+ correct items, but correct is \d+\.$/);
    d.points[5].verdicts = 'AAAA';
    expect(refusal(d).message).toBe('the results document: points.5.verdicts: does not hold 100 verdict bits.');
  });

  it('refuses markup and control characters in any string outside samples, keys included', () => {
    const cases: [(d: Record<string, any>) => void, string, string][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(d) => (d.sources.sft.spec = 'hf:a/b<img src=x onerror=alert(1)>'), 'sources.sft.spec', '"<"'],
      [(d) => (d.tasks[2].data.source = 'a>b'), 'tasks.2.data.source', '">"'],
      [(d) => (d.runtime.provider = 'wasm\u0000'), 'runtime.provider', 'U+0000'],
      [(d) => (d.runtime.provider = 'line\nbreak'), 'runtime.provider', 'U+000A'],
      [(d) => (d.generation['<b>'] = 1), 'generation.<b>', '"<"'],
    ];
    for (const [spoil, path, what] of cases) {
      const d = clone(typicalSweepDocument());
      spoil(d);
      const e = refusal(d);
      expect([e.reason, e.path, e.message]).toEqual(['markup', path, `the results document: ${path}: holds markup or a control character (${what}); a results document holds names, not HTML.`]);
    }
  });

  it('refuses a Hugging Face token anywhere, samples included', () => {
    const d = clone(typicalSweepDocument());
    d.sources.target.spec = 'hf:Qwen/Qwen2.5-Math-1.5B?token=hf_abcdefghijklmnopqrstuvwxyz012345';
    expect([refusal(d).reason, refusal(d).path]).toEqual(['token', 'sources.target.spec']);
    const s = clone(typicalSweepDocument());
    s.samples = [{ series: 'v', task: 'sciq', index: 0, alpha: -1, condition: 'plain', prompt: 'x hf_abcdefghijklmnopqrstuvwxyz012345', extracted: {}, metrics: {} }];
    expect(refusal(s, { allowSamples: true }).path).toBe('samples.0.prompt');
  });

  it('allows samples (with markup: model text) only where asked', () => {
    const d = clone(typicalSweepDocument());
    d.samples = [{ series: 'v', task: 'sciq', index: 0, alpha: -1, condition: 'plain', prompt: '<|im_start|>user\nif a < b:', output: 'x > y', extracted: { acc: '4' }, metrics: { acc: 1 } }];
    expect(validateResultsDocument(d, { allowSamples: true }).samples?.[0].prompt).toBe('<|im_start|>user\nif a < b:');
    expect(refusal(d).message).toBe('the results document: samples: is not allowed here (samples travel in results files, never in a share URL).');
  });

  it('refuses an oversize document, stating the limit', () => {
    const d = clone(typicalSweepDocument());
    const e = refusal(d, { byteLength: MAX_DOCUMENT_BYTES + 1 });
    expect([e.reason, e.message]).toEqual(['oversize', `the results document: is ${MAX_DOCUMENT_BYTES + 1} bytes; the limit is ${MAX_DOCUMENT_BYTES} bytes (a document without samples).`]);
    const big = JSON.stringify(d).padEnd(MAX_DOCUMENT_BYTES + 10, ' ');
    expect(thrown(ResultsDocumentError, () => parseResultsDocument(big)).reason).toBe('oversize');
  });

  it('refuses text that is not JSON', () => {
    const e = thrown(ResultsDocumentError, () => parseResultsDocument('{"format":', { origin: 'results.json' }));
    expect(e.reason).toBe('json');
    expect(e.message).toMatch(/^results\.json: is not valid JSON \(/);
  });
});

describe('verdict bits and base64url', () => {
  it('round-trips bits of every length around byte boundaries', () => {
    for (const n of [1, 7, 8, 9, 15, 16, 17, 100]) {
      const bits = Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0) as 0 | 1);
      expect(decodeVerdicts(encodeVerdicts(bits), n)).toEqual(bits);
    }
    // Item 0 is bit 0 of byte 0; items 0 and 9 set → bytes [0x01, 0x02].
    const bits = Array.from({ length: 10 }, (_, i) => (i === 0 || i === 9 ? 1 : 0) as 0 | 1);
    expect(base64urlToBytes(encodeVerdicts(bits))).toEqual(new Uint8Array([1, 2]));
  });

  it('matches RFC 4648 base64url and refuses what is not', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf, 0x00, 0x10]);
    expect(bytesToBase64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    expect(base64urlToBytes('-_-_AA')).toEqual(new Uint8Array(Buffer.from('-_-_AA', 'base64url')));
    expect(base64urlToBytes('ab+c')).toBeUndefined();
    expect(base64urlToBytes('abcde')).toBeUndefined();
    expect(base64urlToBytes('-_-_AB')).toBeUndefined(); // non-zero bits after the last byte
    expect(decodeVerdicts(encodeVerdicts([1, 1, 1]), 2)).toBeUndefined(); // a set padding bit
  });
});
