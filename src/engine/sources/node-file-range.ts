// Node only: one positioned read of a file on disk, as a ByteFile's `read` needs it.
import { open } from 'node:fs/promises';

/** Reads exactly `length` bytes at `offset`; `onShort` builds the error when the file ends first. */
export async function readFileRange(full: string, offset: number, length: number, onShort: () => Error): Promise<Uint8Array> {
  const h = await open(full, 'r');
  try {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await h.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw onShort();
      done += bytesRead;
    }
    return buf;
  } finally {
    await h.close();
  }
}
