import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { archiveLength, zipArchive, ZIP32_LIMIT, type ArchiveEntry } from './zip-archive.ts';

const streamOf = (bytes: Uint8Array) => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();

async function collect(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Deterministic bytes: file i, byte k = (k·31 + i) mod 251. */
function bytesFor(i: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (k * 31 + i) % 251;
  return b;
}

describe('zipArchive', () => {
  it('stores every file byte for byte (read back by fflate, an independent reader); the predicted length is exact', async () => {
    const files = [
      { name: 'model.safetensors', bytes: bytesFor(0, 300_001) },
      { name: 'config.json', bytes: new TextEncoder().encode('{"a": 1}\n') },
      { name: 'empty.txt', bytes: new Uint8Array(0) },
      { name: 'tokenizer.json', bytes: bytesFor(3, 70_000) },
    ];
    const entries: ArchiveEntry[] = files.map((f) => ({ name: f.name, size: f.bytes.length, open: () => streamOf(f.bytes) }));
    const zip = await collect(zipArchive(entries));
    expect(zip.length).toBe(archiveLength(entries));
    const back = unzipSync(zip);
    expect(Object.keys(back)).toEqual(files.map((f) => f.name));
    for (const f of files) expect(createHash('sha256').update(back[f.name]).digest('hex'), f.name).toBe(createHash('sha256').update(f.bytes).digest('hex'));
  });

  it('opens each file only when the archive reaches it', async () => {
    const opened: string[] = [];
    const entries: ArchiveEntry[] = ['a', 'b', 'c'].map((name, i) => ({
      name,
      size: 10,
      open: () => (opened.push(name), streamOf(bytesFor(i, 10))),
    }));
    const reader = zipArchive(entries).getReader();
    await reader.read(); // the first local header
    expect(opened).toEqual(['a']);
    while (!(await reader.read()).done);
    expect(opened).toEqual(['a', 'b', 'c']);
  });

  it('a file over 4 GiB: streamed through (nothing held), written with ZIP64 sizes and the right CRC-32', { timeout: 300_000 }, async () => {
    // 4 GiB + 4 bytes of a repeating 1 MiB pattern, generated on the fly; only the archive's
    // last 64 KiB are kept, so the test needs a few MiB of memory whatever the size.
    const size = ZIP32_LIMIT + 4;
    const block = bytesFor(7, 1 << 20);
    let crc = 0;
    const big = new ReadableStream<Uint8Array>({
      sent: 0,
      pull(controller) {
        const n = Math.min(block.length, size - this.sent);
        if (n <= 0) return controller.close();
        // A fresh buffer each time, so an archiver holding on to chunks would show in the memory check.
        const chunk = n === block.length ? block.slice() : block.slice(0, n);
        crc = crc32(chunk, crc);
        this.sent += n;
        controller.enqueue(chunk);
      },
    } as UnderlyingDefaultSource<Uint8Array> & { sent: number });
    const small = new TextEncoder().encode('after the big one\n');
    const entries: ArchiveEntry[] = [
      { name: 'model.safetensors', size, open: () => big },
      { name: 'config.json', size: small.length, open: () => streamOf(small) },
    ];
    let total = 0;
    const last: Uint8Array[] = []; // the archive's last ≥ 64 KiB
    let kept = 0;
    let peakBuffers = 0;
    const reader = zipArchive(entries).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if ((total & 0xfffffff) < value.length) peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers); // every 256 MiB
      total += value.length;
      last.push(value);
      kept += value.length;
      while (kept - last[0].length >= 65536) kept -= last.shift()!.length;
    }
    const tail = new Uint8Array(await new Blob(last as Uint8Array<ArrayBuffer>[]).arrayBuffer());
    console.log(`4 GiB archive: peak ArrayBuffer memory sampled every 256 MiB: ${(peakBuffers / 2 ** 20).toFixed(1)} MiB`);
    // Streamed, not held: a fraction of the 4 GiB passing through (GC timing decides the exact figure).
    expect(peakBuffers).toBeLessThan(2 ** 30);
    expect(total).toBe(archiveLength(entries));
    expect(total).toBeGreaterThan(size);
    const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    // The ZIP64 end-of-central-directory record and its locator, as APPNOTE 4.3.14/4.3.15 lay them out.
    const find = (sig: number) => {
      for (let i = tail.length - 4; i >= 0; i--) if (dv.getUint32(i, true) === sig) return i;
      return -1;
    };
    expect(find(0x07064b50), 'ZIP64 locator').toBeGreaterThan(0);
    const eocd64 = find(0x06064b50);
    expect(eocd64, 'ZIP64 end record').toBeGreaterThan(0);
    expect(dv.getBigUint64(eocd64 + 32, true)).toBe(2n); // entries in total
    const cdOffset = dv.getBigUint64(eocd64 + 48, true);
    expect(cdOffset).toBeGreaterThan(BigInt(size));
    // The big file's central directory header: 32-bit fields 0xFFFFFFFF, real sizes in the ZIP64 extra field.
    const cd = tail.length - (total - Number(cdOffset));
    expect(dv.getUint32(cd, true)).toBe(0x02014b50);
    expect(dv.getUint16(cd + 10, true), 'method: stored').toBe(0);
    expect(dv.getUint32(cd + 16, true) >>> 0, 'CRC-32').toBe(crc >>> 0);
    expect(dv.getUint32(cd + 24, true)).toBe(0xffffffff);
    const nameLen = dv.getUint16(cd + 28, true);
    const extraLen = dv.getUint16(cd + 30, true);
    expect(new TextDecoder().decode(tail.subarray(cd + 46, cd + 46 + nameLen))).toBe('model.safetensors');
    let e = cd + 46 + nameLen;
    const sizes: bigint[] = [];
    while (e < cd + 46 + nameLen + extraLen) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) for (let k = 0; k + 8 <= len; k += 8) sizes.push(dv.getBigUint64(e + 4 + k, true));
      e += 4 + len;
    }
    expect(sizes.slice(0, 2)).toEqual([BigInt(size), BigInt(size)]); // uncompressed, compressed
  });
});
