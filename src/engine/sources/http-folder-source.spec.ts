import { describe, expect, it } from 'vitest';
import { rejection } from '../../../test-support/rejection.ts';
import { HubError } from '../errors.ts';
import { httpFolderSource } from './http-folder-source.ts';

/** A static host serving `file` (ranged), whose first `emptyAnswers` ranged answers are 206 with an empty body. */
function host(file: Uint8Array, emptyAnswers: number) {
  let ranged = 0;
  const fetchImpl = (async (url: string, init?: RequestInit) => {
    if (url.endsWith('manifest.json')) return new Response(JSON.stringify({ files: [{ path: 'model.safetensors', size: file.length }] }));
    const [a, b] = (init!.headers as Record<string, string>).Range.replace('bytes=', '').split('-').map(Number);
    ranged++;
    const body = ranged <= emptyAnswers ? new Uint8Array(0) : file.slice(a, b + 1);
    return new Response(body, { status: 206, headers: { 'Content-Range': `bytes ${a}-${b}/${file.length}` } });
  }) as typeof fetch;
  return { fetchImpl, requests: () => ranged };
}

describe('httpFolderSource reads', () => {
  const file = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);

  it('asks again when a 206 answer comes with an empty body (seen from Vite under load)', async () => {
    const h = host(file, 2);
    const f = await (await httpFolderSource('/demo/x/', 'demo:x', h.fetchImpl)).open('model.safetensors');
    expect([...(await f.read(100, 4))]).toEqual([100, 101, 102, 103]);
    expect(h.requests()).toBe(3);
  });

  it('refuses after three short answers, naming the file and the range', async () => {
    const h = host(file, 99);
    const f = await (await httpFolderSource('/demo/x/', 'demo:x', h.fetchImpl)).open('model.safetensors');
    const e = await rejection(f.read(100, 4));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toBe('demo:x: reading model.safetensors (bytes 100–103) returned 0 of 4 bytes 3 times; the server cut its answers short. Try again.');
    expect(h.requests()).toBe(3);
  });
});
