import { useEffect } from 'react';
import { ANSWER_HISTORY_LIMIT } from '../session/answer-history.ts';
import { cancelCompare, columnAlpha, itemKey, nextItemKey, runCompare } from '../session/compare-session.ts';
import { useExplorer, type ColumnResult, type ColumnSpec } from '../explorer-store.ts';
import { useStudio, type BenchmarkItem } from '../store.ts';
import '../explorer.css';
import { ModelBuildStep } from './ModelBuildStep.tsx';
import { NumberField, useFieldProblems, useFocusReturn } from './NumberField.tsx';

/**
 * Compare answers side by side: the playground's prompt, or a benchmark item, at several α
 * (−1, 0, 1 and the slider's α by default). Columns run one after another on the one model; each
 * streams its tokens, shows its re-merge time and first-token latency, and — for an item — the
 * task's extracted answer and verdict. Answers already given are kept and shown without
 * regenerating. The run lives in session/compare-session.ts.
 */
export function AlphaExplorer({ disabled }: { disabled: boolean }) {
  const x = useExplorer();
  const alpha = useStudio((s) => s.merge.alpha);
  const samples = useStudio((s) => s.benchmarks.samples);
  const running = x.status !== 'idle';
  const alphaOk = Number.isFinite(alpha);
  const fields = useFieldProblems();
  const compareButton = useFocusReturn(running);
  const follows = x.columns.findIndex((c) => c.alpha === null);
  // Every column needs a finite α: a column following the slider has none while the header's box is invalid.
  const problem =
    !alphaOk && follows >= 0
      ? `Set α first: column ${follows + 1} follows the slider and the α box at the top does not hold a finite number.`
      : fields.first;
  const blocked = disabled || Boolean(problem);

  // A moved slider re-answers the slider's columns (a kept answer shows at once).
  useEffect(() => {
    const { engaged, columns } = useExplorer.getState();
    const follow = columns.filter((c) => c.alpha === null).map((c) => c.id);
    if (!engaged || follow.length === 0 || disabled || !Number.isFinite(alpha)) return;
    const t = setTimeout(() => void runCompare(follow), 150);
    return () => clearTimeout(t);
  }, [alpha, disabled]);

  const setColumns = (columns: ColumnSpec[], cleared: number[] = []) => {
    const results = { ...useExplorer.getState().results };
    for (const id of cleared) delete results[id];
    x.patch({ columns, results });
  };
  const chooseItem = (item: string | undefined, run: boolean) => {
    x.patch({ source: 'item', item, results: {} });
    if (run && !blocked) void runCompare();
  };
  const item = x.item ?? (samples[0] && itemKey(samples[0]));

  return (
    <section className="alpha-explorer" data-testid="alpha-explorer">
      <h3>Compare α side by side</h3>
      <p className="muted" data-testid="explorer-how">
        The columns run one after another on the one model: each re-merges θ(α) to its α{x.path === 'cpu-copy' ? ' (on the CPU, with a new session)' : ' (on the GPU, same session)'},
        generates greedily, then the next column starts. Answers already given are kept (the last {ANSWER_HISTORY_LIMIT}) and shown again without
        regenerating when α comes back.
      </p>
      <div className="explorer-source">
        <label>
          <input type="radio" name="explorer-source" checked={x.source === 'prompt'} onChange={() => x.patch({ source: 'prompt', results: {} })} /> the input above
        </label>
        <label>
          <input type="radio" name="explorer-source" checked={x.source === 'item'} disabled={samples.length === 0} onChange={() => chooseItem(item, false)} /> a benchmark item
        </label>
        {samples.length === 0 ? (
          <span className="muted">(run the Benchmarks panel to compare its items)</span>
        ) : (
          <>
            <select aria-label="benchmark item" value={item} disabled={running} onChange={(e) => chooseItem(e.target.value, false)}>
              {samples.map((s) => (
                <option key={itemKey(s)} value={itemKey(s)}>
                  {itemLabel(s)}
                </option>
              ))}
            </select>
            <button disabled={running || blocked} onClick={() => chooseItem(nextItemKey(samples, item), true)}>
              Next item
            </button>
          </>
        )}
      </div>
      {x.source === 'item' && <ItemPrompt sample={samples.find((s) => itemKey(s) === item)} />}
      <div className="merge-controls">
        <button
          ref={compareButton.ref}
          disabled={running || blocked}
          onClick={() => {
            compareButton.arm();
            void runCompare();
          }}
        >
          Compare
        </button>
        <button disabled={!running || x.status === 'cancelling'} onClick={cancelCompare}>
          Cancel
        </button>
        {/* A new column starts at the header's α: without one there is no α to start it at. */}
        <button
          disabled={running || !alphaOk}
          title={alphaOk ? undefined : 'The α box at the top does not hold a finite number.'}
          onClick={() => x.patch({ columns: [...x.columns, { id: x.nextId, alpha }], nextId: x.nextId + 1 })}
        >
          Add an α column
        </button>
        <span className="muted" data-testid="explorer-status">
          {x.status === 'running' ? runningText(x.columns, x.results) : x.status === 'cancelling' ? 'cancelling…' : ''}
        </span>
      </div>
      {problem && (
        <p className="error" data-testid="explorer-problem">
          Compare is disabled: {problem}
        </p>
      )}
      {!problem && !alphaOk && (
        <p className="error" data-testid="explorer-problem">
          Adding an α column is disabled: the α box at the top does not hold a finite number.
        </p>
      )}
      <ModelBuildStep />
      {x.error && (
        <p className="error" data-testid="explorer-error">
          {x.error}
        </p>
      )}
      <div className="explorer-columns">
        {x.columns.map((c, i) => (
          <Column
            key={c.id}
            n={i + 1}
            spec={c}
            result={x.results[c.id]}
            locked={running}
            onProblem={fields.report}
            onAlpha={(a) => setColumns(x.columns.map((o) => (o.id === c.id ? { ...o, alpha: a } : o)), [c.id])}
            onRemove={x.columns.length > 1 ? () => setColumns(x.columns.filter((o) => o.id !== c.id), [c.id]) : undefined}
          />
        ))}
      </div>
    </section>
  );
}

function runningText(columns: ColumnSpec[], results: Record<number, ColumnResult>): string {
  const i = columns.findIndex((c) => ['merging', 'generating', 'scoring'].includes(results[c.id]?.status ?? ''));
  if (i < 0) return 'preparing…';
  const r = results[columns[i].id];
  return `column ${i + 1} of ${columns.length} (α = ${r.alpha}): ${r.status === 'merging' ? 're-merging θ(α)' : r.status === 'scoring' ? 'scoring' : 'generating'}…`;
}

function itemLabel(s: BenchmarkItem): string {
  const first = Object.values(s.metrics)[0];
  return `${s.task} #${s.index}${first === undefined ? '' : first ? ' (✓ in the run)' : ' (✗ in the run)'}`;
}

function ItemPrompt({ sample }: { sample: BenchmarkItem | undefined }) {
  if (!sample) return null;
  return (
    <details className="muted" data-testid="explorer-item">
      <summary>
        {sample.task} #{sample.index}, prompted as in the benchmark run ({sample.condition}){sample.reference ? ` — reference: ${sample.reference.text}` : ''}
      </summary>
      <pre className="mono">{sample.prompt}</pre>
    </details>
  );
}

function Column(p: {
  n: number;
  spec: ColumnSpec;
  result: ColumnResult | undefined;
  locked: boolean;
  onAlpha: (a: number) => void;
  onProblem: (label: string, problem: string | undefined) => void;
  onRemove?: () => void;
}) {
  const alpha = columnAlpha(p.spec);
  const r = p.result;
  const shown = r?.alpha ?? alpha;
  const follows = p.spec.alpha === null;
  return (
    <div
      className="explorer-column"
      data-testid="compare-column"
      data-alpha={Number.isFinite(shown) ? shown : ''}
      data-status={r?.status ?? 'empty'}
      data-ids={r?.ids.join(',') ?? ''}
      data-kept={r?.kept ? 'true' : 'false'}
    >
      <header>
        <label>
          α{' '}
          {/* Empty is fine in a column that follows the slider (it still follows); a typed α must be a finite number. */}
          <NumberField
            label={`column ${p.n} alpha`}
            rule={{ optional: follows }}
            step={0.05}
            value={alpha}
            disabled={p.locked}
            onCommit={(a) => a !== null && p.onAlpha(a)}
            onProblem={p.onProblem}
          />
        </label>
        {follows &&
          (Number.isFinite(alpha) ? (
            <span className="muted">follows the slider</span>
          ) : (
            <span className="error" data-testid="column-no-alpha">
              follows the slider — which has no α now (the α box at the top does not hold a finite number)
            </span>
          ))}
        {p.onRemove && (
          <button aria-label={`remove column ${p.n}`} disabled={p.locked} onClick={p.onRemove}>
            ×
          </button>
        )}
      </header>
      {r && <ColumnBody r={r} />}
    </div>
  );
}

function ColumnBody({ r }: { r: ColumnResult }) {
  const shown = r.text ?? (r.ids.length ? r.ids.join(' ') : '');
  return (
    <>
      <div className="muted" data-testid="column-state">
        {r.kept ? (
          <span className="kept" data-testid="column-kept">
            kept from an earlier run at this α — not regenerated
          </span>
        ) : r.status === 'waiting' ? (
          'waiting for the columns before it'
        ) : r.status === 'merging' ? (
          're-merging θ(α)…'
        ) : r.status === 'generating' ? (
          r.finishReason === undefined && r.choices === undefined ? 'generating…' : ''
        ) : r.status === 'scoring' ? (
          'scoring…'
        ) : r.status === 'cancelled' ? (
          'cancelled'
        ) : r.status === 'error' ? (
          ''
        ) : (
          ''
        )}
      </div>
      {r.error && (
        <p className="error" data-testid="column-error">
          {r.error}
        </p>
      )}
      {r.choices ? (
        <ol className="choices" data-testid="column-choices">
          {r.choices.map((c, i) => (
            <li key={i}>
              <span className="mono">{c.text}</span> <span className="muted">log p = {c.loglikelihood.toFixed(3)}</span>
            </li>
          ))}
        </ol>
      ) : (
        <pre data-testid="column-text">{shown}</pre>
      )}
      <p className="numbers muted" data-testid="column-numbers">
        {r.remergeMs !== undefined && <span data-testid="column-remerge">{r.remergeMs > 0 ? `re-merged in ${r.remergeMs.toFixed(1)} ms` : 'weights already at this α'}</span>}
        {r.firstTokenMs !== undefined && (
          <>
            {' · '}
            <span data-testid="column-first-token">first token after {r.firstTokenMs.toFixed(0)} ms</span>
          </>
        )}
        {r.generateMs !== undefined && r.status === 'done' && (
          <>
            {' · '}
            {r.choices ? `${r.choices.length} choices scored in ${r.generateMs.toFixed(0)} ms` : `${r.ids.length} token${r.ids.length === 1 ? '' : 's'} in ${r.generateMs.toFixed(0)} ms (${r.finishReason})`}
          </>
        )}
      </p>
      {r.extracted && (
        <div data-testid="column-extracted">
          {Object.entries(r.extracted).map(([filter, value]) => (
            <div key={filter}>
              <span className="muted">{filter}:</span> <span className="mono">{value}</span>
            </div>
          ))}
        </div>
      )}
      {r.metrics &&
        Object.entries(r.metrics).map(([key, v]) => (
          <div key={key} className={v ? 'bench-pass' : 'bench-fail'} data-testid="column-verdict" data-metric={key} data-value={v}>
            {v ? '✓' : '✗'} <span className="mono">{key}</span>
          </div>
        ))}
    </>
  );
}
