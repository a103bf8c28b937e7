import type { Role } from '../../engine/checkpoint/compatibility.ts';
import { summarizeCheckpoint } from '../../engine/checkpoint/inspect-checkpoint.ts';
import { openCheckpoint, type Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../../engine/errors.ts';
import { opfsCacheStore } from '../../engine/sources/cache/opfs-cache-store.ts';
import { fileListSource, type DroppedFile } from '../../engine/sources/file-list-source.ts';
import { httpFolderSource } from '../../engine/sources/http-folder-source.ts';
import { openHubSource, type HubSource } from '../../engine/sources/hub-source.ts';
import { parseHubId } from '../../engine/sources/parse-source-spec.ts';
import type { CheckpointSource } from '../../engine/sources/source.ts';
import type { DownloadProgress } from '../../engine/sources/cache/progress.ts';
import { useStudio, type SlotState } from '../store.ts';

/**
 * Owns the open checkpoints of the three slots (objects the store must not hold) and turns
 * user actions — a typed Hub id, a dropped folder, the demo button — into store updates.
 */
const open = new Map<Role, Checkpoint>();
/** A newer load for a slot makes an older one's results stale. */
const generation = new Map<Role, number>();

const patch = (role: Role, p: Partial<SlotState>) => useStudio.getState().patchSlot(role, p);

export function checkpointFor(role: Role): Checkpoint | undefined {
  return open.get(role);
}

/** Which load of each slot is current: a new drop, id or demo load is a new identity even under the same label. */
export function loadIdentity(): string {
  return (['sft', 'rl', 'target'] as Role[]).map((r) => `${r}:${generation.get(r) ?? 0}`).join('|');
}

const changeListeners = new Set<() => void>();

/** Called whenever a slot starts loading another checkpoint: results of the old trio are void. */
export function onCheckpointChange(fn: () => void): void {
  changeListeners.add(fn);
}

async function load(role: Role, origin: SlotState['origin'], makeSource: () => Promise<CheckpointSource>): Promise<void> {
  const gen = (generation.get(role) ?? 0) + 1;
  generation.set(role, gen);
  open.delete(role);
  for (const fn of changeListeners) fn();
  const current = () => generation.get(role) === gen;
  patch(role, { status: 'loading', origin, summary: undefined, error: undefined, download: undefined, progress: { phase: 'resolving', done: 0, total: 1 } });
  try {
    const source = await makeSource();
    if (!current()) return;
    patch(role, { label: source.label });
    const ckpt = await openCheckpoint(source, (p) => current() && patch(role, { progress: p }));
    if (!current()) return;
    open.set(role, ckpt);
    patch(role, { status: 'ready', summary: summarizeCheckpoint(ckpt), progress: undefined });
  } catch (e) {
    if (!current()) return;
    const message = e instanceof StudioError ? e.message : `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
    if (!(e instanceof StudioError)) console.error(e);
    patch(role, { status: 'error', error: message, progress: undefined });
  }
}

export function loadHubId(role: Role, id: string): Promise<void> {
  const { hubUrl, token } = useStudio.getState().settings;
  return load(role, 'hub', async () => {
    const { repo, revision } = parseHubId(id);
    return openHubSource(repo, revision, { hubUrl, accessToken: token || undefined, cache: opfsCacheStore() });
  });
}

export function loadDroppedFiles(role: Role, files: DroppedFile[]): Promise<void> {
  return load(role, 'files', async () => fileListSource('dropped files', files));
}

export const DEMO_TRIO: Record<Role, string> = { sft: 'demo-arith-sft', rl: 'demo-arith-rl', target: 'demo-arith-target' };

/** The embedded default: the generated demo trio served from /demo/ by the studio itself. */
export function loadDemo(role: Role): Promise<void> {
  const name = DEMO_TRIO[role];
  return load(role, 'demo', () => httpFolderSource(`${import.meta.env.BASE_URL}demo/${name}/`, `demo:${name}`));
}

/** Downloads every weight file of a Hub slot into the browser cache, with resume and progress. */
export async function downloadWeights(role: Role): Promise<void> {
  const ckpt = open.get(role);
  if (!ckpt || ckpt.source.kind !== 'hub') return;
  const source = ckpt.source as HubSource;
  const files = ckpt.shards.map((s) => ({ path: s.file, size: s.fileSize }));
  const bytesTotal = files.reduce((a, f) => a + f.size, 0);
  let before = 0;
  const onProgress = (p: DownloadProgress) =>
    patch(role, {
      download: {
        state: 'running',
        file: p.file,
        filesDone: files.findIndex((f) => f.path === p.file),
        filesTotal: files.length,
        bytesDone: before + p.bytesDone,
        bytesTotal,
        bytesPerSecond: p.bytesPerSecond,
        etaSeconds: p.bytesPerSecond > 0 ? (bytesTotal - before - p.bytesDone) / p.bytesPerSecond : undefined,
      },
    });
  try {
    for (const f of files) {
      await source.download(f.path, { onProgress });
      before += f.size;
    }
    patch(role, { download: { state: 'done', file: '', filesDone: files.length, filesTotal: files.length, bytesDone: bytesTotal, bytesTotal, bytesPerSecond: 0 } });
  } catch (e) {
    const prev = useStudio.getState().slots[role].download;
    patch(role, {
      download: {
        ...(prev ?? { file: '', filesDone: 0, filesTotal: files.length, bytesDone: before, bytesTotal, bytesPerSecond: 0 }),
        state: 'error',
        error: e instanceof StudioError ? e.message : String((e as Error)?.message ?? e),
      },
    });
  }
}
