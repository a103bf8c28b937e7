import { create } from 'zustand';
import type { Role } from '../engine/checkpoint/compatibility.ts';
import type { CheckpointSummary } from '../engine/checkpoint/inspect-checkpoint.ts';
import type { EvalSample } from '../engine/eval/run/run-task.ts';
import type { TaskSummary } from '../engine/eval/score-responses.ts';
import type { VocabPolicy } from '../engine/merge/merge-plan.ts';
import type { TensorReport, VectorStats } from '../engine/merge/stream-merge.ts';
import type { SupportedDtype } from '../engine/safetensors/dtypes.ts';
import { DEFAULT_HUB_URL } from '../engine/sources/hub-source.ts';
import type { ConditionLabel, SweepResultsDocument } from '../engine/sweep/index.ts';

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
  /** Target only: whether its tokenizer (vocabulary and splitting) is the demo's — what demo_arith needs (slot-loader.ts); undefined while checked. */
  demoVocabulary?: boolean;
}

export interface GpuState {
  /**
   * 'lost': the device was lost after it worked (driver reset, `device.destroy()`); every GPU
   * object of the old device is dead. The page offers to re-create it (session/gpu.ts).
   */
  status: 'pending' | 'ready' | 'unavailable' | 'lost';
  /** After a loss: the GPU work that was running and stopped with it (session/work-status.ts kinds), for "Resume". */
  interrupted?: { kind: string; label: string }[];
  adapter?: string;
  shaderF16?: boolean;
  maxStorageBufferBindingSize?: number;
  maxBufferSize?: number;
  /** A software adapter (SwiftShader, lavapipe). */
  isFallbackAdapter?: boolean;
  /** Bytes per second of a resident α pass, measured on this device (memory plans' α time). */
  mergeBytesPerSecond?: number;
  error?: string;
}

export interface MergeJob {
  kind: 'stats' | 'model' | 'vector' | 'onnx';
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
  /** Shown from the answer history (this α was answered before): nothing was re-merged or generated. */
  kept?: boolean;
}

export interface PlaygroundState {
  prompt: string;
  /** Token ids as typed, for a target without tokenizer.json (the CLI's --ids). */
  idsText: string;
  chat: boolean;
  maxNewTokens: number;
  status: 'idle' | 'loading' | 'generating' | 'error';
  /** The α the generation in progress runs at (the α box may change meanwhile). */
  runningAlpha?: number;
  path?: 'gpu-zero-copy' | 'cpu-copy';
  compute?: 'float32' | 'float16';
  residency?: string;
  output?: PlaygroundOutput;
  error?: string;
}

/** One task of a benchmark run: where its items came from and how far it got. */
export interface BenchmarkTaskState {
  task: string;
  status: 'waiting' | 'loading' | 'running' | 'done' | 'cancelled' | 'error';
  /** `hf:datasets/owner/name config/split`, or `dropped file <name>`. */
  source?: string;
  /** The commit the rows were read from (null for a dropped file). */
  revision?: string | null;
  /** Rows in the dataset; `total` of them were chosen. */
  rows?: number;
  total: number;
  done: number;
  download?: { file: string; bytesDone: number; bytesTotal: number };
  /** Over the finished items: the whole task, or what finished before a cancel. */
  summary?: TaskSummary;
  /** The max new tokens this task ran with (the task's own unless overridden). */
  maxNewTokens?: number;
  error?: string;
}

export interface BenchmarkRun {
  status: 'loading' | 'running' | 'done' | 'cancelled' | 'error';
  /** What is happening now, in words. */
  phase: string;
  alpha: number;
  condition: string;
  selection: string;
  itemsDone: number;
  itemsTotal: number;
  itemsPerSecond?: number;
  etaSeconds?: number;
  path?: 'gpu-zero-copy' | 'cpu-copy';
  pythonStartupMs?: number;
  tasks: BenchmarkTaskState[];
  /** bbh_cot_fewshot: the unweighted mean of the subtasks that ran (as `studio eval` writes it). */
  group?: { name: string; mean: number; stderr: number | null; n: number; subtasks: number };
  seconds?: number;
  error?: string;
}

/** One finished item as `studio eval --samples` logs it, plus the answer it is judged against (for reading). */
export type BenchmarkItem = EvalSample & {
  /** The gold choice (log-likelihood tasks) or the target text the metric compares with; none for humaneval (its tests decide). */
  reference?: { text: string; choice?: number };
};

export interface BenchmarksState {
  /** Chosen tasks by lm-eval name; `bbh_cot_fewshot` stands for all 27 subtasks. */
  tasks: string[];
  count: number;
  selection: 'first-n' | 'shuffle';
  seed: number;
  condition: 'plain' | 'think';
  chat: boolean;
  batchSize: number;
  /** null: each task's own max_gen_toks. */
  maxNewTokens: number | null;
  /** A dropped .jsonl/.parquet file standing in for the one chosen task's dataset (its bytes stay in the session). */
  dataFile?: { name: string; bytes: number; rows?: number; error?: string };
  run?: BenchmarkRun;
  samples: BenchmarkItem[];
}

/** The α sweep's choices, as the panel edits them (src/ui/components/SweepPanel.tsx). */
export interface SweepSettings {
  /** The α grid as typed; 0 and 1 are always added (sweep-session.ts parses it). */
  alphasText: string;
  /** lm-eval task names (`bbh_cot_fewshot` = its 27 subtasks) or `demo_arith`. */
  tasks: string[];
  conditions: ConditionLabel[];
  count: number;
  selection: 'first-n' | 'shuffle';
  seed: number;
  batchSize: number;
  /** null: each task's own max_gen_toks. */
  maxNewTokens: number | null;
  /** Run the SFT and RL donors alone as reference lines. */
  donors: boolean;
  /** Sweep a random vector with v's per-tensor norms over the same grid, from this seed. */
  control: boolean;
  controlSeed: number;
}

export interface SweepRunState {
  status: 'loading' | 'running' | 'done' | 'cancelled' | 'error';
  /** What is happening now, in words. */
  phase: string;
  itemsDone: number;
  itemsTotal: number;
  /** Items read back from IndexedDB instead of computed (a resumed sweep). */
  itemsResumed: number;
  itemsPerSecond?: number;
  etaSeconds?: number;
  path?: 'gpu-zero-copy' | 'cpu-copy';
  /** How θ(α) is held: resident, or streamed from the checkpoints for each α (too big for the budget). */
  residency?: string;
  streaming?: boolean;
  seconds?: number;
  error?: string;
}

export interface SweepState {
  settings: SweepSettings;
  run?: SweepRunState;
  /** What the plot draws: a finished (or partial) sweep of this page, or a document from a share link. */
  document?: SweepResultsDocument;
  origin?: 'run' | 'link';
  /** IndexedDB key of the configuration the settings describe, and how many of its items are stored. */
  stored?: { key: string; items: number; total: number };
  /** A share link that was refused: the reason, as text. */
  linkError?: string;
  share?: { url: string; droppedVerdicts: boolean } | { error: string };
  /** The point whose items are shown. */
  selected?: { series: string; alpha: number };
  /** Bumped when the session's samples change (they live in sweep-session.ts, not here). */
  samplesVersion: number;
}

export interface StudioState {
  /** The token stays in memory for this tab only: it is never written to a URL, log or file. */
  /** gpuBudgetGiB: how much GPU memory the merged model may hold (WebGPU cannot report free memory). */
  /** weights: 'auto' (4-bit only when the float weights do not fit), or forced float / 4-bit (memory-plan.ts planPageWeights). */
  settings: { hubUrl: string; token: string; gpuBudgetGiB: number; weights: import('../engine/model/memory-plan.ts').WeightsChoice };
  slots: Record<Role, SlotState>;
  gpu: GpuState;
  merge: MergeState;
  patchMerge(p: Partial<MergeState>): void;
  playground: PlaygroundState;
  patchPlayground(p: Partial<PlaygroundState>): void;
  benchmarks: BenchmarksState;
  patchBenchmarks(p: Partial<BenchmarksState>): void;
  sweep: SweepState;
  patchSweep(p: Partial<SweepState>): void;
  patchSweepSettings(p: Partial<SweepSettings>): void;
  setSettings(s: Partial<StudioState['settings']>): void;
  setInput(role: Role, input: string): void;
  patchSlot(role: Role, patch: Partial<SlotState>): void;
  setGpu(gpu: GpuState): void;
}

const emptySlot = (): SlotState => ({ input: '', status: 'empty' });

export const useStudio = create<StudioState>((set) => ({
  settings: { hubUrl: import.meta.env.VITE_HF_ENDPOINT || DEFAULT_HUB_URL, token: '', gpuBudgetGiB: 4, weights: 'auto' },
  slots: { sft: emptySlot(), rl: emptySlot(), target: emptySlot() },
  gpu: { status: 'pending' },
  merge: { alpha: 1, outDtype: 'target', vocabPolicy: 'refuse' },
  patchMerge: (p) => set((st) => ({ merge: { ...st.merge, ...p } })),
  // Defaults suit the embedded demo (a+b mod 10, one-token answers); a chat model wants the template on.
  playground: { prompt: '3+4=', idsText: '', chat: false, maxNewTokens: 1, status: 'idle' },
  patchPlayground: (p) => set((st) => ({ playground: { ...st.playground, ...p } })),
  // Small defaults: a browser run is a look, not a paper's full test split.
  benchmarks: { tasks: ['sciq'], count: 20, selection: 'first-n', seed: 1234, condition: 'plain', chat: false, batchSize: 8, maxNewTokens: null, samples: [] },
  patchBenchmarks: (p) => set((st) => ({ benchmarks: { ...st.benchmarks, ...p } })),
  // The paper's grid; the demo task's 100 items; both reference kinds on (the control is the paper's sanity check).
  sweep: {
    settings: {
      alphasText: '-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5',
      tasks: ['demo_arith'],
      conditions: ['plain'],
      count: 100,
      selection: 'first-n',
      seed: 1234,
      batchSize: 8,
      maxNewTokens: null,
      donors: true,
      control: true,
      controlSeed: 1234,
    },
    samplesVersion: 0,
  },
  patchSweep: (p) => set((st) => ({ sweep: { ...st.sweep, ...p } })),
  patchSweepSettings: (p) => set((st) => ({ sweep: { ...st.sweep, settings: { ...st.sweep.settings, ...p } } })),
  setSettings: (s) => set((st) => ({ settings: { ...st.settings, ...s } })),
  setInput: (role, input) => set((st) => ({ slots: { ...st.slots, [role]: { ...st.slots[role], input } } })),
  patchSlot: (role, patch) => set((st) => ({ slots: { ...st.slots, [role]: { ...st.slots[role], ...patch } } })),
  setGpu: (gpu) => set({ gpu }),
}));
