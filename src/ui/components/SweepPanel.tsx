import { useEffect } from 'react';
import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { BBH_GROUP, THINK_INSTRUCTION } from '../../engine/eval/index.ts';
import { CONDITION_LABELS, type ConditionLabel } from '../../engine/sweep/index.ts';
import { formatDuration } from '../format.ts';
import { cancelSweep, currentSweepJson, forgetStoredSweep, openSharedLink, parseAlphaText, rerunProblems, rerunShared, runSweep, sweepProblem, watchStoredSweep } from '../session/sweep-session.ts';
import { demoVocabularyOf, shareRefusalText } from '../session/sweep-settings.ts';
import { useStudio } from '../store.ts';
import { NumberField, useFieldProblems, useFocusReturn } from './NumberField.tsx';
import { SweepResults } from './SweepResults.tsx';
import { pageRefusal, useVerdict } from './VerdictPanel.tsx';

/** lm-eval tasks offered one by one; `bbh_cot_fewshot` stands for its 27 subtasks. */
const LM_EVAL_TASKS = ['gsm8k_cot', 'gsm8k_cot_zeroshot', 'sciq', 'humaneval', BBH_GROUP.name] as const;
const DEMO_TASK = 'demo_arith';

const CONDITION_WORDS: Record<ConditionLabel, string> = {
  plain: 'plain',
  think: `think ("${THINK_INSTRUCTION}")`,
  'plain+chat': 'plain, chat template',
  'think+chat': 'think, chat template',
};

/**
 * The α sweep: accuracy against α for the chosen tasks × conditions, with the reference models
 * and the control vector, on the playground's model (each α one re-merge on the GPU, the sessions
 * reused). Every finished item is kept in IndexedDB, so a reload resumes; a share link draws a
 * sweep without downloading anything and offers Re-run. The run lives in session/sweep-session.ts.
 */
export function SweepPanel() {
  const sweep = useStudio((s) => s.sweep);
  const slots = useStudio((s) => s.slots);
  const patch = useStudio((s) => s.patchSweepSettings);
  const verdict = useVerdict('merge');
  const settings = sweep.settings;
  const run = sweep.run;
  const running = run?.status === 'loading' || run?.status === 'running';
  const trioReady = ROLES.every((r) => slots[r].status === 'ready');
  // The rule Benchmarks uses too (sweep-settings.ts): the target's tokenizer is the demo's, wherever it came from.
  const demoVocabulary = demoVocabularyOf(slots.target);
  const demoLoaded = demoVocabulary === 'demo';
  const fields = useFieldProblems();
  const runButton = useFocusReturn(running);

  useEffect(() => {
    void openSharedLink();
    const onHash = () => void openSharedLink();
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  // What IndexedDB holds for the configuration on screen (a reload shows "N of M stored").
  useEffect(() => watchStoredSweep(), [settings, slots]);

  const blocked = !trioReady
    ? 'Load the three checkpoints first: the sweep runs the merged model θ(α) at each α.'
    : verdict && !verdict.ok
      ? `The sweep is disabled: ${pageRefusal(verdict)}`
      : undefined;
  const grid = parseAlphaText(settings.alphasText);
  const problem = 'error' in grid ? grid.error : (fields.first ?? sweepProblem(settings, demoVocabulary));
  const stored = sweep.stored;

  return (
    <section className="sweep" data-testid="sweep">
      <h2>α sweep</h2>
      <p className="muted">
        Accuracy against α on the chosen tasks and conditions: θ(α) = θ<sub>target</sub> + α·v, one re-merge on the GPU per α (the sessions are reused),
        with the target, the SFT donor and the RL donor alone as reference lines and a control — a random vector with v's per-tensor L2 norm, swept over
        the same grid.
      </p>
      <SharedLinkNotice />
      {/* Progress and the plot first: in the workspace they share the screen with the α explorer; the choices follow. */}
      {run && <SweepProgress />}
      {sweep.document && <SweepResults />}
      {blocked && (
        <p className="error" data-testid="sweep-blocked">
          {blocked}
        </p>
      )}
      <fieldset className="sweep-choices" disabled={Boolean(blocked) || running}>
        <div className="merge-controls">
          <label className="sweep-alphas">
            α values{' '}
            <input aria-label="α values" value={settings.alphasText} spellCheck={false} onChange={(e) => patch({ alphasText: e.target.value })} />
          </label>
          <button type="button" className="secondary" onClick={() => patch({ alphasText: useStudio.getInitialState().sweep.settings.alphasText })}>
            default grid
          </button>
          <span className="muted" data-testid="sweep-grid">
            {'alphas' in grid ? `${grid.alphas.length} α: ${grid.alphas.join(', ')} (0 and 1 always included)` : ''}
          </span>
        </div>
        <div className="bench-tasks" role="group" aria-label="sweep tasks">
          {(demoLoaded || settings.tasks.includes(DEMO_TASK)) && (
            <label>
              <input type="checkbox" aria-label={DEMO_TASK} checked={settings.tasks.includes(DEMO_TASK)} onChange={(e) => patch({ tasks: toggle(settings.tasks, DEMO_TASK, e.target.checked) })} />{' '}
              {DEMO_TASK} <span className="muted">(the demo trio's own task: "a+b=" → (a + b) mod 10)</span>
            </label>
          )}
          {LM_EVAL_TASKS.map((n) => (
            <label key={n}>
              <input type="checkbox" aria-label={n} checked={settings.tasks.includes(n)} onChange={(e) => patch({ tasks: toggle(settings.tasks, n, e.target.checked) })} /> {n}
              {n === BBH_GROUP.name ? ` (${BBH_GROUP.subtasks.length} subtasks)` : ''}
            </label>
          ))}
        </div>
        <div className="bench-tasks" role="group" aria-label="sweep conditions">
          {CONDITION_LABELS.map((c) => (
            <label key={c}>
              <input
                type="checkbox"
                aria-label={`condition ${c}`}
                checked={settings.conditions.includes(c)}
                onChange={(e) => patch({ conditions: CONDITION_LABELS.filter((x) => (x === c ? e.target.checked : settings.conditions.includes(x))) })}
              />{' '}
              {CONDITION_WORDS[c]}
            </label>
          ))}
        </div>
        <div className="merge-controls">
          <label>
            items per task <NumberField label="sweep items per task" rule={{ integer: true, min: 1 }} value={settings.count} onCommit={(count) => patch({ count: count! })} onProblem={fields.report} />
          </label>
          <label>
            <input type="radio" name="sweep-selection" checked={settings.selection === 'first-n'} onChange={() => patch({ selection: 'first-n' })} /> the first n
          </label>
          <label>
            <input type="radio" name="sweep-selection" aria-label="seeded shuffle" checked={settings.selection === 'shuffle'} onChange={() => patch({ selection: 'shuffle' })} /> a
            seeded shuffle, seed{' '}
            <NumberField label="sweep seed" rule={{ integer: true, min: 0 }} value={settings.seed} disabled={settings.selection !== 'shuffle'} onCommit={(seed) => patch({ seed: seed! })} onProblem={fields.report} />
          </label>
          <label>
            batch size <NumberField label="sweep batch size" rule={{ integer: true, min: 1 }} value={settings.batchSize} onCommit={(batchSize) => patch({ batchSize: batchSize! })} onProblem={fields.report} />
          </label>
          <label>
            max new tokens{' '}
            <NumberField
              label="sweep max new tokens"
              rule={{ integer: true, min: 1, optional: true }}
              value={settings.maxNewTokens}
              placeholder="each task's own"
              onCommit={(maxNewTokens) => patch({ maxNewTokens })}
              onProblem={fields.report}
            />
          </label>
        </div>
        <div className="merge-controls">
          <label>
            <input type="checkbox" aria-label="donors alone" checked={settings.donors} onChange={(e) => patch({ donors: e.target.checked })} /> reference lines: the SFT and RL donors
            alone
          </label>
          <label>
            <input type="checkbox" aria-label="control vector" checked={settings.control} onChange={(e) => patch({ control: e.target.checked })} /> control: a random vector with v's
            per-tensor norms, seed{' '}
            <NumberField label="control seed" rule={{ integer: true, min: 0 }} value={settings.controlSeed} disabled={!settings.control} onCommit={(controlSeed) => patch({ controlSeed: controlSeed! })} onProblem={fields.report} />
          </label>
        </div>
      </fieldset>
      <div className="merge-controls">
        <button
          ref={runButton.ref}
          data-testid="sweep-run"
          disabled={Boolean(blocked) || running || Boolean(problem)}
          onClick={() => {
            runButton.arm();
            void runSweep();
          }}
        >
          {stored && stored.items > 0 && stored.items < stored.total ? 'Resume sweep' : 'Run sweep'}
        </button>
        {running && (
          <button className="secondary" data-testid="sweep-cancel" onClick={() => cancelSweep()}>
            Cancel
          </button>
        )}
        {!running && stored && stored.items > 0 && (
          <button className="secondary" data-testid="sweep-forget" onClick={() => void forgetStoredSweep()}>
            Start over (forget the {stored.items} stored items)
          </button>
        )}
        {!blocked && problem && <span className="error" data-testid="sweep-problem">{problem}</span>}
      </div>
      {stored && stored.items > 0 && !running && (
        <p className="muted" data-testid="sweep-stored" data-items={stored.items} data-total={stored.total}>
          {stored.items} of {stored.total} items of this configuration are stored in this browser
          {stored.items < stored.total ? '; Resume runs only the rest.' : '; Run shows them without computing again.'}
        </p>
      )}
      <details className="sweep-cli">
        <summary>The same sweep from the command line</summary>
        <p className="muted">
          <code>studio sweep --config sweep.json --out results.json --plot plot.svg</code> runs this configuration on the host and writes the same results
          document (compare it point by point with this page's JSON). Sources are named as this page loaded them: give the CLI a folder path or an{' '}
          <code>hf:owner/name@commit</code> id for each.
        </p>
        <pre data-testid="sweep-json">{currentSweepJson() ?? ''}</pre>
      </details>
    </section>
  );
}

function toggle(list: string[], name: string, on: boolean): string[] {
  return on ? [...list.filter((t) => t !== name), name] : list.filter((t) => t !== name);
}

function SweepProgress() {
  const run = useStudio((s) => s.sweep.run)!;
  const running = run.status === 'loading' || run.status === 'running';
  return (
    <div className="bench-status" data-testid="sweep-status" data-status={run.status}>
      <p>
        <strong>{{ loading: 'Preparing', running: 'Running', done: 'Done', cancelled: 'Cancelled', error: 'Stopped' }[run.status]}</strong>
        {run.seconds !== undefined && ` · ${run.seconds.toFixed(1)} s`}
        {running && <span className="muted"> · {run.phase}…</span>}
      </p>
      {run.itemsTotal > 0 && (
        <div className="progress" data-testid="sweep-progress" data-done={run.itemsDone} data-total={run.itemsTotal} data-resumed={run.itemsResumed}>
          <progress max={run.itemsTotal} value={run.itemsDone} />
          <span>
            {run.itemsDone}/{run.itemsTotal} items
            {run.itemsResumed > 0 && ` (${run.itemsResumed} read back from this browser's store, not recomputed)`}
            {run.itemsPerSecond !== undefined && ` · ${run.itemsPerSecond.toFixed(2)} items/s`}
            {running && run.etaSeconds !== undefined && ` · ETA ${formatDuration(run.etaSeconds)}`}
          </span>
        </div>
      )}
      {run.path === 'cpu-copy' && <p className="notice">No WebGPU here: each α is merged on the CPU (WASM) and copied into the model, which is much slower.</p>}
      {run.streaming && (
        <p className="notice" data-testid="sweep-streaming">
          Streaming: {run.residency ?? 'target + v + θ(α) do not fit the GPU budget, so each α re-reads the checkpoints instead of re-merging resident weights.'}
        </p>
      )}
      {!run.streaming && run.residency && <p className="muted">{run.residency}</p>}
      {run.status === 'cancelled' && <p className="muted">Cancelled: the finished items are stored; Resume continues from there.</p>}
      {run.error && (
        <p className="error" data-testid="sweep-error">
          {run.error}
        </p>
      )}
    </div>
  );
}

/** A document opened from the URL: where it came from, Re-run; or the link's refusal, as text. */
function SharedLinkNotice() {
  const sweep = useStudio((s) => s.sweep);
  if (sweep.linkError) {
    return (
      <p className="error" role="alert" data-testid="share-refused">
        {shareRefusalText(sweep.linkError)}
      </p>
    );
  }
  if (sweep.origin !== 'link' || !sweep.document) return null;
  const doc = sweep.document;
  const problems = rerunProblems(doc);
  return (
    <div className="notice" data-testid="shared-notice">
      <p>
        Opened from a share link: the plot below is drawn from the link alone (nothing was downloaded). Sources:{' '}
        {ROLES.map((r) => (
          <span key={r} className="mono">
            {r} {doc.sources[r].spec}
            {doc.sources[r].revision && !doc.sources[r].spec.includes(doc.sources[r].revision!) ? `@${doc.sources[r].revision}` : ''}
            {r !== 'target' ? ' · ' : ''}
          </span>
        ))}
      </p>
      <button data-testid="sweep-rerun" onClick={() => void rerunShared()}>
        Re-run
      </button>{' '}
      <span className="muted">loads these checkpoints and the items, then runs the same configuration here.</span>
      {problems.map((p) => (
        <p key={p} className="error">
          {p}
        </p>
      ))}
    </div>
  );
}

