import { decideMerge, type CheckpointHeaders, type DecideOptions, type Role, type Verdict } from '../merge/decide-merge.ts';
import type { CheckpointSummary } from './inspect-checkpoint.ts';

/**
 * The compatibility verdict for a donor pair (SFT, RL) and a target, from headers only. It is
 * not a second opinion: it is decideMerge's verdict (merge/decide-merge.ts), the rules planMerge
 * runs before every merge, read from summaries (plain data) so the page can compute it from
 * its store.
 */

export {
  ROLE_LABEL,
  ROLES,
  type MergeDecision,
  type Role,
  type Severity,
  type TensorDecision,
  type Verdict,
  type VerdictItem,
} from '../merge/decide-merge.ts';

/** What the rules read from a summary (the page's slots hold summaries, not opened checkpoints). */
export function headersOfSummary(s: CheckpointSummary): CheckpointHeaders {
  return { label: s.source, architecture: s.architecture, tiedHead: s.tiedEmbeddings, config: s.config, tensors: s.tensors };
}

/**
 * The verdict on merging `trio` (or, with `mode: 'vector'`, on saving the donors' vector) under
 * the given vocab policy and output dtype; the default is a merge under the "refuse" policy.
 */
export function compatibilityVerdict(trio: Partial<Record<Role, CheckpointSummary>> & Pick<Record<Role, CheckpointSummary>, 'sft' | 'rl'>, options: Partial<DecideOptions> = {}): Verdict {
  const { sft, rl, target } = trio;
  const mode = options.mode ?? 'merge';
  return decideMerge(
    { sft: headersOfSummary(sft), rl: headersOfSummary(rl), target: mode === 'merge' && target ? headersOfSummary(target) : undefined },
    { mode, outDtype: options.outDtype, vocabPolicy: options.vocabPolicy },
  ).verdict;
}
