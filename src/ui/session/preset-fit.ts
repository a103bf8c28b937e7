import * as v from 'valibot';
import type { Role } from '../../engine/checkpoint/compatibility.ts';
import { openCheckpoint, type Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../../engine/errors.ts';
import type { MemoryPlan, PageWeightsPlan } from '../../engine/model/memory-plan.ts';
import { cacheKey } from '../../engine/sources/cache/cache-store.ts';
import { opfsCacheStore } from '../../engine/sources/cache/opfs-cache-store.ts';
import { openHubSource, type HubSource } from '../../engine/sources/hub-source.ts';
import { parseHubId } from '../../engine/sources/parse-source-spec.ts';
import { useStudio } from '../store.ts';
import { deviceProfile, measureMergeRate, planTrio } from './memory-plan-session.ts';
import { loadHubId } from './slot-loader.ts';

/**
 * The paper's trios as one-click presets, and what each would cost here before a byte of weights
 * is downloaded: the download (file sizes from the Hub's listing, minus what the browser cache
 * already holds), the storage the browser has left (navigator.storage.estimate), and the memory
 * plan this device would use (from the safetensors headers: a few KiB per shard) — or why not.
 */

export interface Preset {
  id: string;
  title: string;
  /** Where the trio comes from, in words. */
  note: string;
  sft: string;
  rl: string;
  target: string;
}

/** From ../shared/reference/paper.md: the public donor pairs of Zbeeb et al. (arXiv 2509.01363). */
export const PAPER_PRESETS: readonly Preset[] = [
  {
    id: 'math-1.5b-gsm8k',
    title: 'Qwen2.5-Math-1.5B · GSM8K pair',
    note: 'the paper\'s 1.5B vector (GRPO − SFT on GSM8K) added back to its own base, as in its mergekit recipe',
    sft: 'michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT',
    rl: 'michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO',
    target: 'Qwen/Qwen2.5-Math-1.5B',
  },
  {
    id: 'instruct-1.5b-gsm8k',
    title: 'Qwen2.5-1.5B-Instruct · GSM8K pair',
    note: 'the same 1.5B vector on the instruction-tuned model the paper transfers it to',
    sft: 'michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-SFT',
    rl: 'michaelbzhu/Qwen2.5-Math-1.5B-GSM8K-GRPO',
    target: 'Qwen/Qwen2.5-1.5B-Instruct',
  },
  {
    id: 'instruct-7b-sii',
    title: 'Qwen2.5-7B-Instruct · SII-Enigma pair',
    note: 'the paper\'s 7B donor pair (SFT-32k, SFT-GRPO) on Qwen2.5-7B-Instruct',
    sft: 'SII-Enigma/Qwen2.5-7B-Ins-SFT-32k',
    rl: 'SII-Enigma/Qwen2.5-7B-Ins-SFT-GRPO',
    target: 'Qwen/Qwen2.5-7B-Instruct',
  },
];

const PresetList = v.pipe(
  v.array(v.strictObject({ id: v.string(), title: v.string(), note: v.string(), sft: v.string(), rl: v.string(), target: v.string() })),
  v.minLength(1),
  v.maxLength(20),
);

/**
 * The presets the page offers. Tests replace them with small stand-ins on the mock Hub by setting
 * `window.__STUDIO_PRESETS__` before the page loads (Playwright's addInitScript); the list is
 * validated, and only plain text from it is ever shown.
 */
export function presets(): readonly Preset[] {
  const override = (globalThis as { __STUDIO_PRESETS__?: unknown }).__STUDIO_PRESETS__;
  if (override === undefined) return PAPER_PRESETS;
  const parsed = v.safeParse(PresetList, override);
  if (!parsed.success) {
    console.error(`[studio] __STUDIO_PRESETS__ ignored: ${parsed.issues[0].message}`);
    return PAPER_PRESETS;
  }
  return parsed.output;
}

export interface RepoFit {
  role: Role;
  id: string;
  /** The commit the id resolved to. */
  revision: string;
  /** Weight files (safetensors) and their bytes; every other file is small and read when the slot loads. */
  files: number;
  bytes: number;
  /** Of which already downloaded whole into the browser's cache. */
  cachedBytes: number;
  parameters: number;
  dtypes: string[];
}

export interface PresetFit {
  repos: RepoFit[];
  /** Bytes still to download, each repo once (a pair shared by two presets, a target that is a donor). */
  downloadBytes: number;
  /** navigator.storage.estimate(): what this origin may still store. Undefined where the browser does not say. */
  storage?: { quota: number; usage: number; free: number };
  plan?: MemoryPlan;
  /** Float or 4-bit, as the playground would build it (Settings' weights choice). */
  weights?: PageWeightsPlan;
  /** Why the trio cannot be planned (its verdict refuses it). */
  planError?: string;
}

async function openRepo(id: string): Promise<{ source: HubSource; ckpt: Checkpoint }> {
  const { hubUrl, token } = useStudio.getState().settings;
  const { repo, revision } = parseHubId(id);
  const source = await openHubSource(repo, revision, { hubUrl, accessToken: token || undefined, cache: opfsCacheStore() });
  return { source, ckpt: await openCheckpoint(source) };
}

/** Sizes, storage and the memory plan of a preset: listings and safetensors headers only. */
export async function checkPresetFit(p: Preset): Promise<PresetFit> {
  const roles: Role[] = ['sft', 'rl', 'target'];
  const opened = new Map<string, Promise<{ source: HubSource; ckpt: Checkpoint }>>();
  const open = (id: string) => {
    let o = opened.get(id);
    if (!o) opened.set(id, (o = openRepo(id)));
    return o;
  };
  const [trio] = await Promise.all([Promise.all(roles.map((r) => open(p[r]))), measureMergeRate()]);
  const cache = opfsCacheStore();
  const seen = new Set<string>();
  let downloadBytes = 0;
  const repos: RepoFit[] = [];
  for (let i = 0; i < roles.length; i++) {
    const { source, ckpt } = trio[i];
    // Whole files only: reading headers leaves a few KiB of each file in the cache, not worth counting.
    let cachedBytes = 0;
    for (const s of ckpt.shards) if ((await cache.stat(cacheKey(source.repo, source.revision, s.file)).catch(() => undefined))?.complete) cachedBytes += s.fileSize;
    const bytes = ckpt.shards.reduce((a, s) => a + s.fileSize, 0);
    const key = `${source.repo}@${source.revision}`;
    if (!seen.has(key)) downloadBytes += bytes - cachedBytes;
    seen.add(key);
    let parameters = 0;
    const dtypes = new Set<string>();
    for (const t of ckpt.tensors.values()) {
      parameters += t.shape.reduce((a, b) => a * b, 1);
      dtypes.add(t.dtype);
    }
    repos.push({ role: roles[i], id: p[roles[i]], revision: source.revision, files: ckpt.shards.length, bytes, cachedBytes, parameters, dtypes: [...dtypes] });
  }
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  const storage = estimate?.quota !== undefined ? { quota: estimate.quota, usage: estimate.usage ?? 0, free: estimate.quota - (estimate.usage ?? 0) } : undefined;
  const st = useStudio.getState();
  const { plan, weights, error } = planTrio({ sft: trio[0].ckpt, rl: trio[1].ckpt, target: trio[2].ckpt }, st.merge.vocabPolicy, deviceProfile(st.gpu, st.settings.gpuBudgetGiB), st.settings.weights);
  return { repos, downloadBytes, storage, plan, weights, planError: error };
}

/** Puts the preset's ids in the three slots and loads them (headers only, as typing them would). */
export function loadPreset(p: Preset): void {
  const { setInput } = useStudio.getState();
  for (const role of ['sft', 'rl', 'target'] as const) {
    setInput(role, p[role]);
    void loadHubId(role, p[role]);
  }
}

/** A failure of the fit check in words (a 404 names the repo; anything unexpected is logged). */
export function fitError(e: unknown): string {
  if (e instanceof StudioError) return e.message;
  console.error(e);
  return `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
}
