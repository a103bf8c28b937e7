import { makeZip, predictLength } from 'client-zip';

/**
 * One ZIP archive of an export folder, streamed: each file is opened only when the archive
 * reaches it and passes through in chunks, so memory holds a chunk, never a model.
 *
 * client-zip stores (no compression: safetensors are float bits that do not compress, and
 * deflating gigabytes in the page would cost minutes for a few per cent), and writes ZIP64
 * records when a file or the archive passes 4 GiB.
 */

export interface ArchiveEntry {
  name: string;
  /** Bytes the stream will yield: gives the archive's exact length up front (see archiveLength). */
  size: number;
  lastModified?: Date;
  /** Called when the archive reaches this entry. */
  open: () => ReadableStream<Uint8Array> | Promise<ReadableStream<Uint8Array>>;
}

/** 0xFFFFFFFF: above this, a size or offset needs a ZIP64 record. */
export const ZIP32_LIMIT = 0xffff_ffff;

/** The archive's exact length in bytes (for progress and the download's size). */
export function archiveLength(entries: readonly ArchiveEntry[]): number {
  return Number(predictLength(entries.map((e) => ({ name: e.name, size: e.size }))));
}

export function zipArchive(entries: readonly ArchiveEntry[]): ReadableStream<Uint8Array> {
  async function* files() {
    for (const e of entries) {
      yield { name: e.name, size: e.size, lastModified: e.lastModified ?? new Date(), input: await e.open() };
    }
  }
  return makeZip(files(), { metadata: entries.map((e) => ({ name: e.name, size: e.size })) });
}
