import type { FinishedItem } from '../../engine/sweep/run-sweep.ts';
import { itemKey } from '../../engine/sweep/run-sweep.ts';

/**
 * Finished sweep items in IndexedDB, so nothing a sweep computed is lost: each item is written as
 * it completes, under the sweep's key (a hash of its configuration and the trio it ran on), and a
 * reload — or a crash — resumes the same sweep by reading them back and running only the rest.
 *
 * Two object stores:
 * - `runs` (key): what the sweep was (its configuration as JSON, for the "resume?" line) and when
 *   it was last written;
 * - `items` ([key, id]): one finished item (its verdicts and sample) per item and point, id =
 *   the runner's itemKey (series|α|task|condition|index), indexed by key, with the id of the page
 *   run that computed it (so a resumed sweep can show that nothing was computed twice).
 * IndexedDB rather than OPFS: per-item records with an index, written one at a time from the main
 * thread, are what it is for.
 */

/** The database's name (the e2e tests read it to check what a resumed sweep computed). */
export const SWEEP_DB = 'studio-sweeps';
const DB_VERSION = 1;

export interface SweepRunRecord {
  key: string;
  /** The sweep's configuration, as sweep-session.ts hashed it. */
  config: string;
  /** Items the sweep holds when complete. */
  itemsTotal: number;
  createdAt: number;
  updatedAt: number;
  /** The finished document (JSON) once every item is in. */
  document?: string;
}

export interface StoredItem {
  key: string;
  id: string;
  /** The page run (one per press of Run, a random id) that computed the item. */
  run: string;
  item: FinishedItem;
}

let opened: Promise<IDBDatabase> | undefined;

function db(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(SWEEP_DB, DB_VERSION);
    req.onupgradeneeded = () => {
      const d = req.result;
      if (!d.objectStoreNames.contains('runs')) d.createObjectStore('runs', { keyPath: 'key' });
      if (!d.objectStoreNames.contains('items')) d.createObjectStore('items', { keyPath: ['key', 'id'] }).createIndex('byKey', 'key');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB would not open'));
    // Another tab holds an older version open: say so rather than wait forever.
    req.onblocked = () => reject(new Error('the sweep store is held by another tab of the studio; close it and retry'));
  });
  const p = opened;
  p.catch(() => opened === p && (opened = undefined));
  return p;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

export async function getRun(key: string): Promise<SweepRunRecord | undefined> {
  const tx = (await db()).transaction('runs', 'readonly');
  return request(tx.objectStore('runs').get(key) as IDBRequest<SweepRunRecord | undefined>);
}

export async function putRun(run: SweepRunRecord): Promise<void> {
  const tx = (await db()).transaction('runs', 'readwrite');
  tx.objectStore('runs').put(run);
  await done(tx);
}

/** One finished item, committed before this resolves (a reload right after keeps it). */
export async function putItem(key: string, run: string, item: FinishedItem): Promise<void> {
  const tx = (await db()).transaction('items', 'readwrite');
  tx.objectStore('items').put({ key, id: itemKey(item), run, item } satisfies StoredItem);
  await done(tx);
}

/** Every finished item of a sweep. */
export async function getItems(key: string): Promise<FinishedItem[]> {
  const tx = (await db()).transaction('items', 'readonly');
  const rows = await request(tx.objectStore('items').index('byKey').getAll(IDBKeyRange.only(key)) as IDBRequest<StoredItem[]>);
  return rows.map((r) => r.item);
}

export async function countItems(key: string): Promise<number> {
  const tx = (await db()).transaction('items', 'readonly');
  return request(tx.objectStore('items').index('byKey').count(IDBKeyRange.only(key)));
}

/** Forgets a sweep: its record and every item (a fresh start of the same configuration). */
export async function deleteRun(key: string): Promise<void> {
  const tx = (await db()).transaction(['runs', 'items'], 'readwrite');
  tx.objectStore('runs').delete(key);
  tx.objectStore('items').delete(IDBKeyRange.bound([key], [key, []]));
  await done(tx);
}

/** The sweeps stored, newest first (for "resume the last sweep" after a reload). */
export async function listRuns(): Promise<SweepRunRecord[]> {
  const tx = (await db()).transaction('runs', 'readonly');
  const all = await request(tx.objectStore('runs').getAll() as IDBRequest<SweepRunRecord[]>);
  return all.sort((a, b) => b.updatedAt - a.updatedAt);
}
