import { create } from 'zustand';
import type { Role } from '../engine/checkpoint/compatibility.ts';
import type { CheckpointSummary } from '../engine/checkpoint/inspect-checkpoint.ts';
import type { VocabPolicy } from '../engine/merge/merge-plan.ts';
import type { TensorReport, VectorStats } from '../engine/merge/stream-merge.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { DEFAULT_HUB_URL } from '../engine/sources/hub-source.ts';

/**
 * The page's state: ids, settings, progress and results — plain data only. Sources, GPU
 * devices and sessions are owned by src/ui/session/, never stored here.
 */

export interface DownloadState {
  state: 'running' | 'done' | 'error';
  file: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds?: number;
  error?: string;
}

export interface SlotState {
  /** What is typed in the Hub id box. */
  input: string;
  status: 'empty' | 'loading' | 'ready' | 'error';
  origin?: 'hub' | 'files' | 'demo';
  label?: string;
  summary?: CheckpointSummary;
  error?: string;
  progress?: { phase: 'resolving' | 'listing' | 'headers'; done: number; total: number };
  download?: DownloadState;
}

export interface GpuState {
  status: 'pending' | 'ready' | 'unavailable';
  adapter?: string;
  shaderF16?: boolean;
  maxStorageBufferBindingSize?: number;
  error?: string;
}

export interface MergeJob {
  kind: 'stats' | 'model' | 'vector';
  status: 'running' | 'done' | 'error' | 'cancelled';
  merger?: 'gpu' | 'cpu';
  bytesDone: number;
  bytesTotal: number;
  tensorsDone: number;
  tensorsTotal: number;
  message?: string;
  notes?: string[];
  /** Files written (name, bytes); links only where the browser could not write to a picked folder. */
  files?: { name: string; size: number; url?: string }[];
  error?: string;
}

export interface MergeState {
  alpha: number;
  /** 'target': each tensor keeps the target's dtype. */
  outDtype: 'target' | SupportedDtype;
  vocabPolicy: VocabPolicy;
  job?: MergeJob;
  /** The last vector statistics, per tensor. */
  stats?: { tensors: TensorReport[]; total?: VectorStats; merger: 'gpu' | 'cpu'; seconds: number };
}

export interface PlaygroundOutput {
  alpha: number;
  text: string | null;
  ids: number[];
  promptIds: number[];
  finishReason: string;
  remergeMs: number;
  generateMs: number;
  tokensPerSecond: number;
  /** The ONNX sessions existed before this α: only the weights changed. */
  sessionReused: boolean;
  /** When not reused: building the merged model and its session took this long. */
  buildMs?: number;
}

export interface PlaygroundState {
  prompt: string;
  chat: boolean;
  maxNewTokens: number;
  status: 'idle' | 'loading' | 'generating' | 'error';
  path?: 'gpu-zero-copy' | 'cpu-copy';
  compute?: 'float32' | 'float16';
  residency?: string;
  output?: PlaygroundOutput;
  error?: string;
}

export interface StudioState {
  /** The token stays in memory for this tab only: it is never written to a URL, log or file. */
  /** gpuBudgetGiB: how much GPU memory the merged model may hold (WebGPU cannot report free memory). */
  settings: { hubUrl: string; token: string; gpuBudgetGiB: number };
  slots: Record<Role, SlotState>;
  gpu: GpuState;
  merge: MergeState;
  patchMerge(p: Partial<MergeState>): void;
  playground: PlaygroundState;
  patchPlayground(p: Partial<PlaygroundState>): void;
  setSettings(s: Partial<StudioState['settings']>): void;
  setInput(role: Role, input: string): void;
  patchSlot(role: Role, patch: Partial<SlotState>): void;
  setGpu(gpu: GpuState): void;
}

const emptySlot = (): SlotState => ({ input: '', status: 'empty' });

export const useStudio = create<StudioState>((set) => ({
  settings: { hubUrl: import.meta.env.VITE_HF_ENDPOINT || DEFAULT_HUB_URL, token: '', gpuBudgetGiB: 4 },
  slots: { sft: emptySlot(), rl: emptySlot(), target: emptySlot() },
  gpu: { status: 'pending' },
  merge: { alpha: 1, outDtype: 'target', vocabPolicy: 'refuse' },
  patchMerge: (p) => set((st) => ({ merge: { ...st.merge, ...p } })),
  // Defaults suit the embedded demo (a+b mod 10, one-token answers); a chat model wants the template on.
  playground: { prompt: '3+4=', chat: false, maxNewTokens: 1, status: 'idle' },
  patchPlayground: (p) => set((st) => ({ playground: { ...st.playground, ...p } })),
  setSettings: (s) => set((st) => ({ settings: { ...st.settings, ...s } })),
  setInput: (role, input) => set((st) => ({ slots: { ...st.slots, [role]: { ...st.slots[role], input } } })),
  patchSlot: (role, patch) => set((st) => ({ slots: { ...st.slots, [role]: { ...st.slots[role], ...patch } } })),
  setGpu: (gpu) => set({ gpu }),
}));
