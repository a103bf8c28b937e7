import { useExplorer } from '../explorer-store.ts';
import { cancelBenchmarks } from '../session/benchmark-session.ts';
import { cancelCompare } from '../session/compare-session.ts';
import { cancelMergeJob } from '../session/merge-session.ts';
import { cancelPlayground } from '../session/model-session.ts';
import { cancelSweep } from '../session/sweep-session.ts';
import { runningWork, type WorkItem, type WorkKind } from '../session/work-status.ts';
import { useStudio } from '../store.ts';
import { formatBytes } from '../format.ts';

/** Each kind's cancel, where its session has one (a model build runs to its end). */
const CANCEL: Partial<Record<WorkKind, () => void>> = { merge: cancelMergeJob, generate: cancelPlayground, compare: cancelCompare, benchmark: cancelBenchmarks, sweep: cancelSweep };

/**
 * What the GPU is doing now — merging, building the model, generating, a benchmark run, a sweep —
 * with its progress and a Cancel, in one place at the top of the workspace: the panel that
 * started a job may be scrolled away or folded.
 */
export function WorkStatus() {
  // As text: the list is rebuilt on every store change, and a string compares by value (zustand 5 re-renders on identity).
  const explorer = useExplorer((e) => JSON.stringify(runningWork(useStudio.getState(), e)));
  const work = JSON.parse(useStudio((s) => JSON.stringify(runningWork(s, useExplorer.getState())))) as WorkItem[];
  void explorer; // subscribed so the bar also follows the explorer's store
  return (
    <div className="work-status" role="status" aria-live="polite" data-testid="work-status" data-kinds={work.map((w) => w.kind).join(' ')}>
      {work.length === 0 ? (
        <span className="muted">GPU idle</span>
      ) : (
        work.map((w) => {
          const cancel = CANCEL[w.kind];
          return (
            <span key={w.kind} className="work-item" data-testid={`work-${w.kind}`}>
              <span className="spinner" aria-hidden="true" />
              <strong>{w.label}</strong>
              {w.phase && <span className="muted"> · {w.phase}</span>}
              {w.total !== undefined && w.total > 0 && (
                <>
                  {' '}
                  <progress max={w.total} value={w.done} aria-label={`${w.label} progress`} />{' '}
                  <span className="muted">{w.unit === 'bytes' ? `${formatBytes(w.done ?? 0)} / ${formatBytes(w.total)}` : `${w.done}/${w.total}`}</span>
                </>
              )}
              {cancel && (
                <button className="secondary small" data-testid={`work-cancel-${w.kind}`} onClick={cancel}>
                  Cancel
                </button>
              )}
            </span>
          );
        })
      )}
    </div>
  );
}
