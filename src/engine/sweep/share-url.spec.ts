import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { rejection } from '../../../test-support/rejection.ts';
import { typicalSweepDocument } from '../../../test-support/sweep-document.ts';
import { MAX_DOCUMENT_BYTES, ResultsDocumentError, bytesToBase64url } from './results-document.ts';
import { MAX_SHARE_PAYLOAD_CHARS, TYPICAL_SHARE_URL_BUDGET, decodeShareHash, encodeShareHash, encodeShareUrl, hasSharedDocument } from './share-url.ts';

const hashOf = (json: string) => `r=1.${bytesToBase64url(deflateRawSync(Buffer.from(json)))}`;
const refused = async (hash: string) => {
  const e = await rejection(decodeShareHash(hash));
  if (!(e instanceof ResultsDocumentError)) throw e;
  return e;
};

describe('share URLs', () => {
  it('a typical 4-task × 11-α sweep (control + donors) encodes under 8 KB, verdict bits included, and decodes to the same document', async () => {
    const doc = typicalSweepDocument({ verdicts: true });
    const url = await encodeShareUrl(doc, 'https://studio.example/app/');
    console.log(`share URL of a 4-task × 11-α sweep (${doc.points.length} points, per-item verdicts): ${url.length} characters`);
    expect(url.startsWith('https://studio.example/app/#r=1.')).toBe(true);
    expect(url.length).toBeLessThan(TYPICAL_SHARE_URL_BUDGET);
    expect(await decodeShareHash(url)).toEqual(doc);
    const counts = typicalSweepDocument();
    const short = (await encodeShareHash(counts)).hash;
    console.log(`… counts only: ${short.length} characters; plain+think × chat on/off: ${(await encodeShareHash(typicalSweepDocument({ conditions: ['plain', 'think', 'plain+chat', 'think+chat'] }))).hash.length}`);
    expect(short.length).toBeLessThan(TYPICAL_SHARE_URL_BUDGET / 2);
  });

  it('drops the verdict bits (and says so) when they would push the link past the budget; never carries samples', async () => {
    const doc = { ...typicalSweepDocument({ verdicts: true }), samples: [] };
    const e = await encodeShareHash(doc, { verdictBudgetChars: 3000 });
    expect(e.droppedVerdicts).toBe(true);
    const back = await decodeShareHash(e.hash);
    expect(back.points.every((p) => p.verdicts === undefined)).toBe(true);
    expect(back.points.map((p) => p.correct)).toEqual(doc.points.map((p) => p.correct));
    expect('samples' in back).toBe(false);
    expect((await encodeShareHash(doc)).droppedVerdicts).toBe(false);
  });

  it('works from a whole URL or a bare hash, and says whether a hash carries a document', async () => {
    const { hash } = await encodeShareHash(typicalSweepDocument());
    expect(hasSharedDocument(`#${hash}`)).toBe(true);
    expect(hasSharedDocument('#settings')).toBe(false);
    expect((await decodeShareHash(`#${hash}`)).alphas).toHaveLength(11);
  });

  it('refuses an oversize link before reading it, stating the limit', async () => {
    const e = await refused(`r=1.${'A'.repeat(MAX_SHARE_PAYLOAD_CHARS + 100)}`);
    expect([e.reason, e.message]).toEqual(['oversize', `the share URL: is ${MAX_SHARE_PAYLOAD_CHARS + 104} characters; the limit is ${MAX_SHARE_PAYLOAD_CHARS}.`]);
  });

  it('refuses a small link that inflates past the document limit (a deflate bomb)', async () => {
    const bomb = hashOf(' '.repeat(MAX_DOCUMENT_BYTES * 4));
    expect(bomb.length).toBeLessThan(MAX_SHARE_PAYLOAD_CHARS);
    const e = await refused(bomb);
    expect([e.reason, e.message]).toEqual(['oversize', `the share URL: inflates to more than ${MAX_DOCUMENT_BYTES} bytes; the limit is ${MAX_DOCUMENT_BYTES}.`]);
  });

  it('refuses another encoding version and another document version', async () => {
    const { hash } = await encodeShareHash(typicalSweepDocument());
    expect((await refused(hash.replace('r=1.', 'r=2.'))).message).toBe('the share URL: uses encoding version 2; this studio reads version 1 — it was made by a newer studio.');
    expect((await refused(hash.replace('r=1.', 'r=x'))).reason).toBe('version');
    const v2 = await refused(hashOf(JSON.stringify({ ...typicalSweepDocument(), version: 2 })));
    expect([v2.reason, v2.path]).toEqual(['version', 'version']);
  });

  it('refuses corrupted bytes: bad base64url, bad deflate, not UTF-8, not JSON', async () => {
    const { hash } = await encodeShareHash(typicalSweepDocument());
    expect((await refused(hash.slice(0, 40) + '!!' + hash.slice(42))).reason).toBe('compression');
    // Flip bits in the middle of the deflate stream.
    const body = hash.slice(4);
    const flipped = body.slice(0, 100) + (body[100] === 'A' ? 'z' : 'A') + (body[101] === 'B' ? 'y' : 'B') + body.slice(102);
    expect(['compression', 'json', 'schema', 'markup']).toContain((await refused(`r=1.${flipped}`)).reason);
    expect((await refused(`r=1.${hash.slice(4, 60)}`)).reason).toBe('compression'); // cut short
    expect((await refused(`r=1.${bytesToBase64url(deflateRawSync(Buffer.from([0xff, 0xfe, 0x80])))}`)).reason).toBe('compression');
    const e = await refused(hashOf('{"format": "reasoning-vector-studio/sweep", '));
    expect(e.reason).toBe('json');
    expect(e.message).toMatch(/^the share URL: does not hold JSON \(/);
    expect((await refused('view=plot')).message).toBe('the share URL: has no "#r=" part; it does not carry a results document.');
  });

  it('refuses markup and schema violations as a file would', async () => {
    const doc = typicalSweepDocument();
    const markup = await refused(hashOf(JSON.stringify({ ...doc, sources: { ...doc.sources, sft: { spec: '<script>alert(1)</script>', revision: null } } })));
    expect([markup.reason, markup.path]).toEqual(['markup', 'sources.sft.spec']);
    const schema = await refused(hashOf(JSON.stringify({ ...doc, alphas: 'all' })));
    expect([schema.reason, schema.path]).toEqual(['schema', 'alphas']);
    const samples = await refused(hashOf(JSON.stringify({ ...doc, samples: [] })));
    expect([samples.reason, samples.path]).toEqual(['schema', 'samples']);
  });

  it('never puts a token into a URL', async () => {
    const doc = typicalSweepDocument();
    const withToken = { ...doc, sources: { ...doc.sources, rl: { spec: 'hf:org/private-rl', revision: null, token: 'hf_abcdefghijklmnopqrstuvwxyz0123456789' } } };
    const e = await rejection(encodeShareHash(withToken as never));
    expect(e).toBeInstanceOf(ResultsDocumentError);
    expect((e as ResultsDocumentError).reason).toBe('token');
    expect((await rejection(encodeShareUrl(doc, 'https://user:hf_abcdefghijklmnopqrstuvwxyz0123@studio.example/'))).message).toBe('the share URL: base URL: holds credentials; a share URL never carries any.');
  });
});
