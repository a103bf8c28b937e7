import { ROLES, type Role } from '../../engine/checkpoint/compatibility.ts';
import { StudioError } from '../../engine/errors.ts';
import type { AnyTask, RunProgram } from '../../engine/eval/index.ts';
import type { LiveModel } from '../../engine/model/live-model.ts';
import type { SweepBackend } from '../../engine/sweep/host-sweep-backend.ts';
import {
  decodeShareHash,
  encodeShareHash,
  hasSharedDocument,
  SHARE_HASH_KEY,
  withoutSamples,
  type SweepResultsDocument,
  type SweepSample,
} from '../../engine/sweep/index.ts';
import { buildSweepDocument, itemKey, runSweep as runSweepEngine, SweepCancelledError, sweepConfigKey, sweepUnits, type ComputedSeries, type FinishedItem, type SweepInput } from '../../engine/sweep/run-sweep.ts';
import { parseSweepConfig } from '../../engine/sweep/sweep-config.ts';
import { useStudio, type SweepRunState, type SweepSettings } from '../store.ts';
import { demoVocabularyOf, parseAlphaText, settingsFromDocument, sweepJsonOf, sweepProblem } from './sweep-settings.ts';

export { parseAlphaText, sweepProblem } from './sweep-settings.ts';
import { expandTasks, loadItems, pythonSandbox } from './benchmark-session.ts';
import { createPageLiveModel, withLiveModelAt } from './model-session.ts';
import { checkpointFor, DEMO_TRIO, demoVocabularyChecked, loadDemo, loadHubId, onCheckpointChange } from './slot-loader.ts';
import { controlCheckpoint, zerosLike } from './sweep-checkpoints.ts';
import { countItems, deleteRun, getItems, getRun, putItem, putRun } from './sweep-store-idb.ts';
import { pageGpuMessage } from './gpu.ts';

/**
 * The sweep panel's session: runs the engine's sweep (src/engine/sweep/run-sweep.ts) on the
 * page's model — each α one re-merge of the playground's LiveModel on the GPU, never a reload —
 * writes every finished item to IndexedDB as it completes and resumes from there after a reload
 * (same configuration, same key). It also owns the page's side of share links: reading a
 * document from the URL's hash (validated by the engine; a refusal is shown as text, nothing
 * from the URL is run or rendered as markup), writing one into it, and Re-run.
 *
 * What the store must not hold lives here: the finished items behind the plot, the abort
 * controller, the extra models of the control and donor series.
 */

const st = () => useStudio.getState();

/** The items behind the plot: this page's run (with those read back from IndexedDB), none for a link. */
let samples: SweepSample[] = [];

export function sweepSamples(): readonly SweepSample[] {
  return samples;
}

function setSamples(next: SweepSample[]): void {
  samples = next;
  st().patchSweep({ samplesVersion: st().sweep.samplesVersion + 1 });
}

export function selectPoint(series?: string, alpha?: number): void {
  st().patchSweep({ selected: series !== undefined && alpha !== undefined ? { series, alpha } : undefined });
}

// ---- settings kept across reloads ------------------------------------------------------------

/**
 * The panel's choices survive a reload (localStorage; they hold no token), so the same
 * configuration — and with it the same IndexedDB key — is there to resume.
 */
const SETTINGS_KEY = 'studio.sweep.settings';
try {
  const saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null') as Partial<SweepSettings> | null;
  const known = st().sweep.settings;
  if (saved && typeof saved === 'object') {
    const ok = Object.fromEntries(Object.entries(saved).filter(([k, v]) => k in known && typeof v === typeof known[k as keyof SweepSettings] || (k === 'maxNewTokens' && (v === null || typeof v === 'number'))));
    st().patchSweepSettings(ok as Partial<SweepSettings>);
  }
} catch {
  // unreadable: the defaults stand
}
useStudio.subscribe((s, prev) => {
  if (s.sweep.settings !== prev.sweep.settings) localStorage.setItem(SETTINGS_KEY, JSON.stringify(s.sweep.settings));
});

// ---- the α grid and the configuration --------------------------------------------------------

/** A slot's source as sweep.json and the results document name it (a Hub label carries its commit). */
export function sourceSpec(role: Role): string {
  return st().slots[role].label ?? role;
}

/** The sweep.json of what the panel shows, with the page's sources (for `studio sweep`, after replacing them by paths or hf: ids). */
export function currentSweepJson(): string | undefined {
  const s = st().sweep.settings;
  const grid = parseAlphaText(s.alphasText);
  if ('error' in grid) return undefined;
  return JSON.stringify(sweepJsonOf(s, grid.alphas, { sft: sourceSpec('sft'), rl: sourceSpec('rl'), target: sourceSpec('target') }), null, 2) + '\n';
}

/** What identifies the loaded trio beyond its labels (two drops share the label "dropped files"). */
function trioFingerprint(): string {
  return ROLES.map((r) => {
    const s = st().slots[r].summary;
    return `${r}:${s?.source ?? ''}@${s?.revision ?? ''}:${s?.parameters ?? 0}:${s?.totalTensorBytes ?? 0}`;
  }).join('|');
}

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The IndexedDB key of a configuration on the loaded trio: same sweep.json + trio + vocab policy = same key. */
async function storageKey(s: SweepSettings): Promise<string | undefined> {
  const grid = parseAlphaText(s.alphasText);
  if ('error' in grid || ROLES.some((r) => st().slots[r].status !== 'ready')) return undefined;
  const json = sweepJsonOf(s, grid.alphas, { sft: sourceSpec('sft'), rl: sourceSpec('rl'), target: sourceSpec('target') });
  return sha256Hex(JSON.stringify({ json, trio: trioFingerprint(), vocab: st().merge.vocabPolicy }));
}

/** Keeps `sweep.stored` (items IndexedDB holds for the configuration on screen) current; returns a cancel. */
export function watchStoredSweep(): () => void {
  let live = true;
  void (async () => {
    const key = await storageKey(st().sweep.settings).catch(() => undefined);
    if (!live) return;
    if (!key) return st().patchSweep({ stored: undefined });
    const [items, run] = await Promise.all([countItems(key), getRun(key)]).catch(() => [0, undefined] as const);
    if (live) st().patchSweep({ stored: { key, items, total: run?.itemsTotal ?? 0 } });
  })();
  return () => {
    live = false;
  };
}

/** Forgets what IndexedDB holds for the configuration on screen. */
export async function forgetStoredSweep(): Promise<void> {
  const key = st().sweep.stored?.key;
  if (key) await deleteRun(key);
  st().patchSweep({ stored: undefined });
  watchStoredSweep();
}

// ---- the run ---------------------------------------------------------------------------------

let controller: AbortController | undefined;
/** Bumped when a slot changes: a run of the old trio stops publishing. */
let runId = 0;

// A slot loading another checkpoint: a run of the old trio stops (its stored items stay, under the old trio's key).
onCheckpointChange(() => {
  runId++;
  controller?.abort();
});

export function cancelSweep(): void {
  controller?.abort();
}

/**
 * The page's SweepBackend: series v is the playground's LiveModel re-merged per α; the control
 * and the donors alone are LiveModels of computed trios (sweep-checkpoints.ts), each built when
 * its series starts and released when the next starts or the sweep ends — at most one besides
 * the playground's at a time.
 */
class PageSweepBackend implements SweepBackend {
  private extra: { series: ComputedSeries; model: LiveModel } | undefined;
  private current: LiveModel;

  constructor(
    private readonly main: LiveModel,
    private readonly controlSeed: number | null,
    private readonly onBuild: (what: string) => void,
  ) {
    this.current = main;
  }

  get model() {
    return this.current.model;
  }

  get tokenizer() {
    return this.main.tokenizer!;
  }

  get description(): string {
    return this.main.path === 'gpu-zero-copy'
      ? `onnxruntime-web (webgpu, ${this.main.compute}), θ(α) re-merged on the GPU per α${this.main.streaming ? ' (streaming the checkpoints)' : ''}`
      : 'onnxruntime-web (wasm), θ(α) merged on the CPU per α';
  }

  async use(series: ComputedSeries, alpha: number | null, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new SweepCancelledError();
    if (series === 'v') {
      await this.release();
      this.current = this.main;
      if (this.main.alpha !== alpha) await this.main.setAlpha(alpha!);
      return;
    }
    if (this.extra?.series !== series) {
      await this.release();
      const sft = checkpointFor('sft')!;
      const rl = checkpointFor('rl')!;
      const target = checkpointFor('target')!;
      let trio;
      if (series === 'control') {
        if (this.controlSeed === null) throw new StudioError('the control series needs a control seed.');
        this.onBuild(`building the control model (a random vector with v's per-tensor norms, seed ${this.controlSeed})`);
        trio = { sft: zerosLike(sft), rl: controlCheckpoint(sft, rl, this.controlSeed), target };
      } else {
        const donor = series === 'sft' ? sft : rl;
        this.onBuild(`building the ${series.toUpperCase()} donor alone`);
        trio = { sft: zerosLike(donor), rl: zerosLike(donor), target: donor };
      }
      this.extra = { series, model: await createPageLiveModel(trio) };
    }
    this.current = this.extra.model;
    const a = series === 'control' ? alpha! : 0;
    if (this.extra.model.alpha !== a) await this.extra.model.setAlpha(a);
  }

  private async release(): Promise<void> {
    const old = this.extra;
    this.extra = undefined;
    this.current = this.main;
    if (old) await old.model.dispose();
  }

  async dispose(): Promise<void> {
    await this.release();
  }
}

/** Every (task, condition)'s items, loaded as the Benchmarks panel loads them (Hub datasets cached in OPFS) or built in (demo_arith). */
async function loadInputs(tasks: AnyTask[], s: SweepSettings, signal: AbortSignal, phase: (p: string) => void): Promise<SweepInput['tasks']> {
  const selection = s.selection === 'shuffle' ? ({ mode: 'shuffle', count: s.count, seed: s.seed } as const) : ({ mode: 'first-n', count: s.count } as const);
  const conditions = s.conditions.map((c) => ({ mode: c.startsWith('think') ? ('think' as const) : ('plain' as const), chatTemplate: c.endsWith('+chat') }));
  const out: SweepInput['tasks'] = [];
  for (const task of tasks) {
    if (signal.aborted) throw new SweepCancelledError();
    phase(`reading ${task.name}'s items`);
    let items: { index: number; doc: unknown }[];
    let data: SweepInput['tasks'][number]['data'];
    if (task.builtinRows) {
      const rows = task.builtinRows();
      const { selectItems } = await import('../../engine/eval/select-items.ts');
      items = selectItems(rows.length, selection).map((index) => ({ index, doc: task.readDoc(rows[index], `${task.name} row ${index}`) }));
      // As the CLI records it (src/cli/task-items.ts), so the two documents agree.
      data = { source: `built-in (${task.dataset.path})`, revision: null, rows: rows.length };
    } else {
      const r = await loadItems(task, undefined, selection, signal, (d) => phase(`downloading ${d.file} for ${task.name}: ${Math.round((100 * d.bytesDone) / Math.max(1, d.bytesTotal))}%`));
      items = r.items;
      data = { source: r.source, revision: r.revision, rows: r.rows };
    }
    out.push({ task, items, conditions, selection: { mode: selection.mode, count: s.count, seed: s.selection === 'shuffle' ? s.seed : null }, data });
  }
  return out;
}

export async function runSweep(): Promise<void> {
  if (controller) return;
  // A target loaded a moment ago (a share link's Re-run) may still be having its tokenizer checked.
  await demoVocabularyChecked();
  if (controller) return;
  const s = st().sweep.settings;
  const patchSweep = st().patchSweep;
  const grid = parseAlphaText(s.alphasText);
  const problem = 'error' in grid ? grid.error : sweepProblem(s, demoVocabularyOf(st().slots.target));
  if (problem || 'error' in grid) {
    patchSweep({ run: { status: 'error', phase: 'stopped', itemsDone: 0, itemsTotal: 0, itemsResumed: 0, error: problem } });
    return;
  }
  const mine = new AbortController();
  controller = mine;
  const id = ++runId;
  const signal = mine.signal;
  const started = performance.now();
  /** One id per press of Run, stored with each item it computes. */
  const pageRun = crypto.randomUUID();
  let run: SweepRunState = { status: 'loading', phase: 'starting', itemsDone: 0, itemsTotal: 0, itemsResumed: 0 };
  const publish = (p: Partial<SweepRunState>) => {
    if (id !== runId) return;
    run = { ...run, ...p };
    patchSweep({ run });
  };
  patchSweep({ run, selected: undefined, share: undefined, linkError: undefined });

  try {
    // sweep.json, checked by the engine's own parser: the page runs exactly what `studio sweep` would.
    const sources = { sft: sourceSpec('sft'), rl: sourceSpec('rl'), target: sourceSpec('target') };
    const config = parseSweepConfig(sweepJsonOf(s, grid.alphas, sources), 'the sweep settings');
    const key = (await storageKey(s))!;
    const tasks = expandTasks(s.tasks);
    const inputs = await loadInputs(tasks, s, signal, (phase) => publish({ phase }));
    const revisionOf = (r: Role) => st().slots[r].summary?.revision ?? null;
    const input: SweepInput = {
      sources: { sft: { spec: sources.sft, revision: revisionOf('sft') }, rl: { spec: sources.rl, revision: revisionOf('rl') }, target: { spec: sources.target, revision: revisionOf('target') } },
      alphas: config.alphas,
      tasks: inputs,
      generation: config.generation,
      controls: config.controls,
    };

    // Resume: the items stored under this key — unless they were made from other items (a moved dataset revision).
    const configKey = sweepConfigKey(input);
    const itemsTotal = sweepUnits(input).length * inputs.reduce((a, t) => a + t.items.length * t.conditions.length, 0);
    const before = await getRun(key);
    if (before && before.config !== configKey) await deleteRun(key);
    const resumed = before && before.config === configKey ? await getItems(key) : [];
    await putRun({ key, config: configKey, itemsTotal, createdAt: before?.createdAt ?? Date.now(), updatedAt: Date.now(), document: before?.config === configKey ? before.document : undefined });
    const finished = new Map<string, FinishedItem>(resumed.map((i) => [itemKey(i), i]));
    setSamples(resumed.flatMap((i) => (i.sample ? [i.sample] : [])));
    publish({ itemsTotal, itemsDone: finished.size, itemsResumed: finished.size, phase: finished.size ? `${finished.size} items read back from this browser` : 'starting' });
    patchSweep({ stored: { key, items: finished.size, total: itemsTotal } });
    const partial = () => withoutSamples(buildSweepDocument(input, finished, { samples: false, verdicts: true }));
    if (finished.size) patchSweep({ document: partial(), origin: 'run' });

    let runProgram: RunProgram | undefined;
    if (tasks.some((t) => t.name === 'humaneval')) {
      publish({ phase: 'starting the Python sandbox (Pyodide)' });
      runProgram = (await pythonSandbox()).runProgram;
    }

    let doc: SweepResultsDocument;
    if (finished.size === itemsTotal) {
      doc = buildSweepDocument(input, finished, { samples: false, verdicts: true });
    } else {
      let lastDraw = 0;
      doc = await withLiveModelAt(
        config.alphas[0],
        async (m) => {
          publish({ status: 'running', path: m.path, residency: m.residencyExplanation, streaming: m.streaming, phase: 'running' });
          const backend = new PageSweepBackend(m, input.controls.randomVectorSeed, (phase) => publish({ phase }));
          try {
            return await runSweepEngine(backend, input, {
              signal,
              runProgram,
              resume: resumed,
              samples: true,
              verdicts: true,
              onItem: async (item) => {
                await putItem(key, pageRun, item);
                finished.set(itemKey(item), item);
                if (id !== runId) return;
                if (item.sample) samples.push(item.sample);
                // The plot grows as points complete; redrawn at most twice a second.
                if (performance.now() - lastDraw > 500) {
                  lastDraw = performance.now();
                  patchSweep({ document: partial(), origin: 'run', samplesVersion: st().sweep.samplesVersion + 1 });
                }
              },
              onProgress: (p) =>
                publish({
                  itemsDone: p.done,
                  itemsPerSecond: p.itemsPerSecond,
                  etaSeconds: p.etaSeconds ?? undefined,
                  phase: `${p.series === 'v' ? 'target + α·v' : p.series === 'control' ? 'control vector' : `${p.series.toUpperCase()} donor alone`}${p.alpha !== null ? ` at α = ${p.alpha}` : ''} · ${p.task} · ${p.condition}`,
                }),
            });
          } finally {
            await backend.dispose();
          }
        },
        () => publish({ phase: 'building the merged model and its sessions' }),
      );
    }
    const shown = withoutSamples(doc);
    await putRun({ key, config: configKey, itemsTotal, createdAt: before?.createdAt ?? Date.now(), updatedAt: Date.now(), document: JSON.stringify(shown) });
    if (id !== runId) return;
    patchSweep({ document: shown, origin: 'run', stored: { key, items: itemsTotal, total: itemsTotal }, samplesVersion: st().sweep.samplesVersion + 1 });
    publish({ status: 'done', phase: 'done', itemsDone: itemsTotal, etaSeconds: undefined, seconds: (performance.now() - started) / 1000 });
  } catch (e) {
    const cancelled = e instanceof SweepCancelledError || signal.aborted;
    publish({ status: cancelled ? 'cancelled' : 'error', phase: cancelled ? 'cancelled' : 'stopped', etaSeconds: undefined, seconds: (performance.now() - started) / 1000, error: cancelled ? undefined : message(e) });
  } finally {
    if (controller === mine) controller = undefined;
    if (id === runId) watchStoredSweep();
  }
}

// ---- share links -----------------------------------------------------------------------------

/** The share part (`r=…`) this page last wrote itself: its own hashchange is not a link to open. */
let ownShare: string | null = null;
/** Only the `r=` part says which document a link carries: an `a=` (α) edited beside it is not a new link. */
const sharePart = (hash: string) => new URLSearchParams(hash.replace(/^#/, '')).get(SHARE_HASH_KEY);

/**
 * Opens the document a share link carries, if the URL has one: drawn at once, nothing
 * downloaded. A refusal (oversize, version, compression, schema, markup, token) is kept as text
 * for the panel; the URL's content is never inserted as HTML and nothing in it is executed.
 */
export async function openSharedLink(hash: string = location.hash): Promise<void> {
  if (!hasSharedDocument(hash) || sharePart(hash) === ownShare) return;
  try {
    const doc = await decodeShareHash(hash);
    setSamples([]);
    st().patchSweep({ document: doc, origin: 'link', linkError: undefined, selected: undefined, share: undefined });
  } catch (e) {
    st().patchSweep({ linkError: message(e), document: st().sweep.origin === 'link' ? undefined : st().sweep.document });
  }
}

/** Puts the shown document into the URL's hash and on the clipboard; the URL holds no token (the document cannot: it is validated). */
export async function copyShareLink(): Promise<void> {
  const doc = st().sweep.document;
  if (!doc) return;
  try {
    const { hash, droppedVerdicts } = await encodeShareHash(doc);
    const url = `${location.origin}${location.pathname}${location.search}#${hash}`;
    const token = st().settings.token;
    // Belt and braces: the document holds labels, never the token; a URL that did would not be made.
    if (token && url.includes(token)) throw new StudioError('the share link would contain the access token; it was not made.');
    ownShare = sharePart(hash);
    history.replaceState(history.state, '', url);
    st().patchSweep({ share: { url, droppedVerdicts } });
    await navigator.clipboard?.writeText(url).catch(() => undefined); // the URL is shown too: a denied clipboard loses nothing
  } catch (e) {
    st().patchSweep({ share: { error: message(e) } });
  }
}

/**
 * Re-run a shared document: load its sources (the demo trio, or Hub ids pinned to their commits),
 * take its configuration into the panel, and run it here. Sources the page cannot load by name
 * (a local folder, dropped files) are named, and nothing starts.
 */
export async function rerunShared(): Promise<void> {
  const doc = st().sweep.document;
  if (!doc) return;
  if (rerunProblems(doc).length) return;
  st().patchSweepSettings(settingsFromDocument(doc, st().sweep.settings));
  await Promise.all(ROLES.map((r) => (st().slots[r].label === doc.sources[r].spec && st().slots[r].status === 'ready' ? undefined : sourceLoader(r, doc.sources[r].spec)!())));
  const failed = ROLES.filter((r) => st().slots[r].status !== 'ready');
  if (failed.length) {
    st().patchSweep({ run: { status: 'error', phase: 'stopped', itemsDone: 0, itemsTotal: 0, itemsResumed: 0, error: `Could not load ${failed.join(', ')}: ${failed.map((r) => st().slots[r].error ?? 'not ready').join('; ')}` } });
    return;
  }
  st().patchSweep({ origin: undefined });
  await runSweep();
}

/** Why a document's sources cannot be loaded by the page on its own, per role (dropped files, a local folder). */
export function rerunProblems(doc: SweepResultsDocument): string[] {
  return ROLES.flatMap((role) => (sourceLoader(role, doc.sources[role].spec) ? [] : [`${role}: "${doc.sources[role].spec}" was a local folder or dropped files; drop it into the ${role} slot, then press Run sweep.`]));
}

function sourceLoader(role: Role, spec: string): (() => Promise<void>) | undefined {
  if (spec === `demo:${DEMO_TRIO[role]}`) return () => loadDemo(role);
  if (spec.startsWith('hf:')) return () => loadHubId(role, spec.slice(3));
  return undefined;
}

export function message(e: unknown): string {
  const lost = pageGpuMessage(e); // a lost device: the page's own wording (the engine's is the CLI's)
  if (lost) return lost;
  if (e instanceof StudioError) return e.message;
  console.error(e);
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}
