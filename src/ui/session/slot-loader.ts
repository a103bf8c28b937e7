import type { Role } from '../../engine/checkpoint/compatibility.ts';
import { summarizeCheckpoint } from '../../engine/checkpoint/inspect-checkpoint.ts';
import { openCheckpoint, type Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { HubError, StudioError } from '../../engine/errors.ts';
import { cacheKey } from '../../engine/sources/cache/cache-store.ts';
import { MAX_ATTEMPTS } from '../../engine/sources/cache/download-with-resume.ts';
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
    patch(role, { status: 'ready', summary: summarizeCheckpoint(ckpt), progress: undefined, demoVocabulary: undefined });
    if (role === 'target') demoCheck = hasDemoVocabulary(ckpt).then((fits) => void (current() && patch(role, { demoVocabulary: fits })));
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

/**
 * After Settings cleared the browser's download cache: an open Hub checkpoint keeps handles to the
 * cached files it read whole (tokenizer, downloaded weights), which are gone now, so each Hub slot
 * is opened again at the commit it was pinned to (headers re-read; nothing else is downloaded).
 * Returns the roles reopened.
 */
export function reopenHubSlots(): Role[] {
  const roles = (['sft', 'rl', 'target'] as Role[]).filter((r) => open.get(r)?.source.kind === 'hub');
  for (const r of roles) {
    const source = open.get(r)!.source as HubSource;
    void loadHubId(r, `${source.repo}@${source.revision}`);
  }
  return roles;
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

/**
 * The parts of a tokenizer.json that decide how text becomes ids (vocabulary, merges, splitting,
 * special tokens), as one canonical string: two files that differ only in layout or in fields that
 * do not change ids (padding, truncation, the decoder) give the same string.
 */
export function tokenizerIdentity(json: string): string | undefined {
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canon({ model: t.model, normalizer: t.normalizer, pre_tokenizer: t.pre_tokenizer, added_tokens: t.added_tokens }));
}

/** The target's demo-tokenizer check in flight (slot state `demoVocabulary` is undefined until it settles). */
let demoCheck: Promise<void> = Promise.resolve();
/**
 * Settles once the loaded target's demo-tokenizer check has: a run started right after loading
 * (a share link's Re-run loads the demo trio and runs at once) waits for the answer instead of
 * being refused with "checking…".
 */
export const demoVocabularyChecked = (): Promise<void> => demoCheck;

let demoIdentity: Promise<string | undefined> | undefined;
/** The embedded demo target's tokenizer identity (undefined when this site does not publish the demo). */
function demoTokenizerIdentity(): Promise<string | undefined> {
  return (demoIdentity ??= fetch(`${import.meta.env.BASE_URL}demo/${DEMO_TRIO.target}/tokenizer.json`)
    .then(async (r) => (r.ok ? tokenizerIdentity(await r.text()) : undefined))
    .catch(() => undefined));
}

/**
 * What demo_arith needs of a target, wherever it was loaded from (the embedded demo, the Hub's
 * published copy, a dropped folder): the demo's tokenizer, in which every digit, "+" and "=" is one
 * token, so the task's ten one-token continuations are the digits it scores.
 */
async function hasDemoVocabulary(ckpt: Checkpoint): Promise<boolean> {
  if (!ckpt.files.some((f) => f.path === 'tokenizer.json')) return false;
  try {
    const file = await ckpt.source.open('tokenizer.json');
    const mine = tokenizerIdentity(new TextDecoder().decode(await file.read(0, file.size)));
    const demo = await demoTokenizerIdentity();
    return mine !== undefined && mine === demo;
  } catch {
    return false;
  }
}

/** What the page says about the demo trio, read from the report its generator wrote (scripts/fixtures/demo-arithmetic.ts). */
export interface DemoFacts {
  /** The task in words, e.g. '"a+b=" → (a + b) mod 10, one token; a, b ∈ 0…9'. */
  task: string;
  /** Share of the demo prompts whose best digit is right, at α = 0 and α = 1 (undefined if not measured). */
  accuracyAt0?: number;
  accuracyAt1?: number;
  /** The correct answer to `prompt`, if the report lists that prompt. */
  answer?: string;
}

/** The demo's report (demo.json beside the target), or undefined when the demo is not published here. */
export async function fetchDemoFacts(prompt: string): Promise<DemoFacts | undefined> {
  try {
    const res = await fetch(`${import.meta.env.BASE_URL}demo/${DEMO_TRIO.target}/demo.json`);
    if (!res.ok) return undefined;
    const report = (await res.json()) as {
      task?: unknown;
      prompts?: { text: string; answer: string }[];
      accuracy?: { alpha: number; digitsOnly: number }[];
    };
    if (typeof report.task !== 'string') return undefined;
    const at = (alpha: number) => report.accuracy?.find((a) => a.alpha === alpha)?.digitsOnly;
    return { task: report.task, accuracyAt0: at(0), accuracyAt1: at(1), answer: report.prompts?.find((p) => p.text === prompt)?.answer };
  } catch {
    return undefined; // not JSON (a dev server's HTML fallback): nothing to say beyond the task
  }
}

/** Downloads every weight file of a Hub slot into the browser cache, with resume and progress. */
export async function downloadWeights(role: Role): Promise<void> {
  const ckpt = open.get(role);
  if (!ckpt || ckpt.source.kind !== 'hub') return;
  const source = ckpt.source as HubSource;
  const files = ckpt.shards.map((s) => ({ path: s.file, size: s.fileSize }));
  const bytesTotal = files.reduce((a, f) => a + f.size, 0);
  let before = 0;
  // The engine reports every network chunk (often 16-64 KiB); the store is patched at most once
  // per animation frame, with the latest numbers.
  let latest: DownloadProgress | undefined;
  let frame: number | undefined;
  const flush = () => {
    frame = undefined;
    const p = latest;
    if (!p || useStudio.getState().slots[role].download?.state === 'error') return;
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
  };
  const onProgress = (p: DownloadProgress) => {
    latest = p;
    frame ??= requestAnimationFrame(flush);
  };
  const cancelFrame = () => frame !== undefined && cancelAnimationFrame(frame);
  let current = 0;
  try {
    for (; current < files.length; current++) {
      await source.download(files[current].path, { onProgress });
      before += files[current].size;
    }
    cancelFrame();
    patch(role, { download: { state: 'done', file: '', filesDone: files.length, filesTotal: files.length, bytesDone: bytesTotal, bytesTotal, bytesPerSecond: 0 } });
  } catch (e) {
    cancelFrame();
    const failed = files[current];
    // Say where a resume really starts: from what the cache holds, which is not necessarily
    // what the bar last showed (bytes received and bytes stored can differ).
    const cached = (await opfsCacheStore().stat(cacheKey(source.repo, source.revision, failed.path)).catch(() => undefined))?.bytes ?? 0;
    const resumeAt = before + cached;
    patch(role, {
      download: {
        state: 'error',
        file: failed.path,
        filesDone: current,
        filesTotal: files.length,
        bytesDone: resumeAt,
        bytesTotal,
        bytesPerSecond: 0,
        error: downloadFailure(e, failed.path, resumeAt, bytesTotal),
      },
    });
  }
}

/**
 * What a stopped download says. fetch reports a dropped connection as a bare "Failed to fetch"
 * (the source wraps it as a HubError without a status); after MAX_ATTEMPTS the user needs to
 * know that it was the connection and that nothing received in whole ranges is lost.
 */
function downloadFailure(e: unknown, file: string, resumeAt: number, total: number): string {
  const resume = `Resume continues from byte ${resumeAt.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}.`;
  const dropped = (e instanceof HubError && e.status === undefined) || e instanceof TypeError;
  if (dropped) return `The connection dropped while downloading ${file} (${MAX_ATTEMPTS} attempts). ${resume}`;
  const message = e instanceof StudioError ? e.message : `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
  return `${message} ${resume}`;
}
