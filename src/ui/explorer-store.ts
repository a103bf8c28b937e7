import { create } from 'zustand';
import type { BuildProgress } from '../engine/model/live-model.ts';

/**
 * The α explorer's state (side-by-side answers at several α, src/ui/components/AlphaExplorer.tsx),
 * and the build step of the playground's model that both the playground and the explorer show.
 * Plain data only; the run itself lives in session/compare-session.ts. A store of its own so the
 * explorer's edits never touch the page-wide store (store.ts).
 */

/** A column: a fixed α, or `null` to follow the page's α slider. */
export interface ColumnSpec {
  id: number;
  alpha: number | null;
}

export interface ColumnResult {
  /** The α this answer is for (a slider column's α at the time it ran). */
  alpha: number;
  status: 'waiting' | 'merging' | 'generating' | 'scoring' | 'done' | 'cancelled' | 'error';
  ids: number[];
  text: string | null;
  /** Shown from the answer history: nothing was re-merged or generated for it now. */
  kept: boolean;
  finishReason?: string;
  /** Time to re-merge θ(α) for this column (0: the weights were already at this α). */
  remergeMs?: number;
  /** From asking for the first token to having it (includes the prompt's prefill). */
  firstTokenMs?: number;
  generateMs?: number;
  tokensPerSecond?: number;
  /** Benchmark items: the task's own filters' answers and metrics (lm-eval's). */
  extracted?: Record<string, string>;
  metrics?: Record<string, 0 | 1>;
  /** Log-likelihood items: each choice's log-likelihood (nothing is generated for them). */
  choices?: { text: string; loglikelihood: number; isGreedy: boolean }[];
  error?: string;
}

/** The first build of the model, as its own step (what it is doing and how far it got). */
export interface BuildStep {
  status: 'running' | 'done' | 'error';
  progress: BuildProgress;
  /** Milliseconds since the build started (when done: how long it took). */
  ms: number;
}

export interface ExplorerState {
  columns: ColumnSpec[];
  nextId: number;
  /** The free prompt (the playground's prompt box) or one benchmark item from the loaded samples. */
  source: 'prompt' | 'item';
  /** `task#index` of the chosen item among the benchmark samples. */
  item?: string;
  results: Record<number, ColumnResult>;
  status: 'idle' | 'running' | 'cancelling';
  /** Compare was pressed: a moving slider updates the slider column. */
  engaged: boolean;
  path?: 'gpu-zero-copy' | 'cpu-copy';
  build?: BuildStep;
  error?: string;
  patch(p: Partial<Omit<ExplorerState, 'patch'>>): void;
  setResult(id: number, r: Partial<ColumnResult>): void;
}

/** −1, 0, 1 and the slider's α: subtracting, nothing, adding, and wherever the user is. */
const DEFAULT_COLUMNS: ColumnSpec[] = [
  { id: 1, alpha: -1 },
  { id: 2, alpha: 0 },
  { id: 3, alpha: 1 },
  { id: 4, alpha: null },
];

export const useExplorer = create<ExplorerState>((set) => ({
  columns: DEFAULT_COLUMNS,
  nextId: DEFAULT_COLUMNS.length + 1,
  source: 'prompt',
  results: {},
  status: 'idle',
  engaged: false,
  patch: (p) => set(p),
  setResult: (id, r) =>
    set((st) => {
      const old = st.results[id] ?? { alpha: r.alpha ?? NaN, status: 'waiting', ids: [], text: null, kept: false };
      return { results: { ...st.results, [id]: { ...old, ...r } } };
    }),
}));
