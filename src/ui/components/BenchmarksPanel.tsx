import { useState, type DragEvent } from 'react';
import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { BBH_GROUP, BBH_SUBTASKS, THINK_INSTRUCTION, wilsonInterval } from '../../engine/eval/index.ts';
import { cancelBenchmarks, choiceProblem, clearDataFile, expandTasks, resultsJson, runBenchmarks, samplesJsonl, setDataFile } from '../session/benchmark-session.ts';
import { useStudio, type BenchmarkItem, type BenchmarksState, type BenchmarkTaskState } from '../store.ts';
import { formatBytes, formatDuration } from '../format.ts';
import { NumberField, useFieldProblems, useFocusReturn } from './NumberField.tsx';
import { pageRefusal, useVerdict } from './VerdictPanel.tsx';

/** Tasks offered one by one; BBH's 27 subtasks get their own list. */
const SINGLE_TASKS = ['gsm8k_cot', 'gsm8k_cot_zeroshot', 'sciq', 'humaneval'] as const;
/** The studio's own tasks (not lm-eval's): built-in rows, labelled as such. */
const STUDIO_TASKS: Record<string, string> = { demo_arith: "the demo trio's a+b mod 10, by log-likelihood; not an lm-eval task" };
/** Rows of the items table added per "show more": a long run stays quick to render. */
const ITEMS_PAGE = 50;

/**
 * Benchmarks at the current α: lm-eval's tasks run on the playground's merged model, a score per
 * task with its Wilson 95% interval, and every item (prompt, output, extracted answer, verdict) to
 * read through. The run itself lives in session/benchmark-session.ts.
 */
export function BenchmarksPanel() {
  const slots = useStudio((s) => s.slots);
  const bench = useStudio((s) => s.benchmarks);
  const alpha = useStudio((s) => s.merge.alpha);
  const patch = useStudio((s) => s.patchBenchmarks);
  const verdict = useVerdict('merge');
  const run = bench.run;
  const running = run?.status === 'loading' || run?.status === 'running';
  const trioReady = ROLES.every((r) => slots[r].status === 'ready');
  const blocked = !trioReady
    ? 'Load the three checkpoints first: the benchmarks run on the merged model θ(α).'
    : verdict && !verdict.ok
      ? `Benchmarks are disabled: ${pageRefusal(verdict)}`
      : undefined;
  const fileOk = Boolean(bench.dataFile && !bench.dataFile.error);
  const fields = useFieldProblems();
  const runButton = useFocusReturn(running);
  // The run is at the header's α: while that box holds no number there is nothing to run at.
  const problem = !Number.isFinite(alpha)
    ? 'Set α first: the α box at the top does not hold a finite number.'
    : (fields.first ?? choiceProblem(bench.tasks, fileOk));

  return (
    <section className="benchmarks" data-testid="benchmarks">
      <h2>Benchmarks</h2>
      <p className="muted">
        lm-evaluation-harness's tasks — their prompts, stop strings, filters and metrics — on the playground's model at the current α. Greedy
        decoding; prompts longer than the model's context are cut from the left, as lm-eval does.
      </p>
      {blocked && (
        <p className="error" data-testid="bench-blocked">
          {blocked}
        </p>
      )}
      <fieldset className="bench-choices" disabled={Boolean(blocked) || running}>
        <TaskChooser tasks={bench.tasks} onChange={(tasks) => patch({ tasks })} />
        <div className="merge-controls">
          <label>
            items per task{' '}
            <NumberField label="items per task" rule={{ integer: true, min: 1 }} value={bench.count} onCommit={(count) => patch({ count: count! })} onProblem={fields.report} />
          </label>
          <label>
            <input type="radio" name="bench-selection" checked={bench.selection === 'first-n'} onChange={() => patch({ selection: 'first-n' })} /> the first n
          </label>
          <label>
            <input type="radio" name="bench-selection" checked={bench.selection === 'shuffle'} onChange={() => patch({ selection: 'shuffle' })} /> a seeded shuffle,
            seed{' '}
            <NumberField label="seed" rule={{ integer: true }} value={bench.seed} disabled={bench.selection !== 'shuffle'} onCommit={(seed) => patch({ seed: seed! })} onProblem={fields.report} />
          </label>
        </div>
        <div className="merge-controls">
          <label>
            condition{' '}
            <select aria-label="condition" value={bench.condition} onChange={(e) => patch({ condition: e.target.value as BenchmarksState['condition'] })}>
              <option value="plain">plain</option>
              <option value="think">think ("{THINK_INSTRUCTION}")</option>
            </select>
          </label>
          <label>
            <input aria-label="chat template" type="checkbox" checked={bench.chat} onChange={(e) => patch({ chat: e.target.checked })} /> chat template
          </label>
          <label>
            batch size{' '}
            <NumberField label="batch size" rule={{ integer: true, min: 1 }} value={bench.batchSize} onCommit={(batchSize) => patch({ batchSize: batchSize! })} onProblem={fields.report} />
          </label>
          <label>
            max new tokens{' '}
            <NumberField
              label="benchmark max new tokens"
              rule={{ integer: true, min: 1, optional: true }}
              value={bench.maxNewTokens}
              placeholder={maxNewPlaceholder(bench.tasks)}
              onCommit={(maxNewTokens) => patch({ maxNewTokens })}
              onProblem={fields.report}
            />
          </label>
        </div>
        <DataFileChooser />
      </fieldset>
      <div className="merge-controls">
        <button
          ref={runButton.ref}
          data-testid="bench-run"
          disabled={Boolean(blocked) || running || Boolean(problem)}
          onClick={() => {
            runButton.arm();
            void runBenchmarks();
          }}
        >
          Run at α = {Number.isFinite(alpha) ? alpha : '—'}
        </button>
        {running && (
          <button className="secondary" data-testid="bench-cancel" onClick={() => cancelBenchmarks()}>
            Cancel
          </button>
        )}
        {!blocked && problem && (
          <span className="error" data-testid="bench-problem">
            {problem}
          </span>
        )}
      </div>
      {run && <RunStatus />}
      {run && run.tasks.length > 0 && <ScoreTable />}
      {bench.samples.length > 0 && <ItemsTable samples={bench.samples} />}
    </section>
  );
}

function maxNewPlaceholder(names: readonly string[]): string {
  const defaults = new Set(expandTasks(names).flatMap((t) => (t.outputType === 'generate_until' ? [t.generation.maxGenToks] : [])));
  return defaults.size === 0 ? 'no generation task' : `task's own (${[...defaults].join(', ')})`;
}

function TaskChooser({ tasks, onChange }: { tasks: string[]; onChange: (t: string[]) => void }) {
  const has = (n: string) => tasks.includes(n);
  const toggle = (n: string, on: boolean) => onChange(on ? [...tasks.filter((t) => t !== n), n] : tasks.filter((t) => t !== n));
  const allBbh = has(BBH_GROUP.name);
  const bbhChosen = allBbh ? BBH_SUBTASKS.length : BBH_GROUP.subtasks.filter(has).length;
  return (
    <div className="bench-tasks" role="group" aria-label="tasks">
      {SINGLE_TASKS.map((n) => (
        <label key={n}>
          <input type="checkbox" aria-label={n} checked={has(n)} onChange={(e) => toggle(n, e.target.checked)} /> {n}
        </label>
      ))}
      {Object.entries(STUDIO_TASKS).map(([n, about]) => (
        <label key={n} title={about}>
          <input type="checkbox" aria-label={n} checked={has(n)} onChange={(e) => toggle(n, e.target.checked)} /> {n} <span className="muted">({about})</span>
        </label>
      ))}
      <label>
        <input type="checkbox" aria-label={BBH_GROUP.name} checked={allBbh} onChange={(e) => toggle(BBH_GROUP.name, e.target.checked)} /> {BBH_GROUP.name} (all{' '}
        {BBH_SUBTASKS.length} subtasks)
      </label>
      <details>
        <summary>BBH subtasks ({bbhChosen} chosen)</summary>
        <div className="bench-subtasks">
          {BBH_GROUP.subtasks.map((n) => (
            <label key={n}>
              <input type="checkbox" aria-label={n} checked={allBbh || has(n)} disabled={allBbh} onChange={(e) => toggle(n, e.target.checked)} />{' '}
              {n.slice(BBH_GROUP.name.length + 1)}
            </label>
          ))}
        </div>
      </details>
    </div>
  );
}

function DataFileChooser() {
  const file = useStudio((s) => s.benchmarks.dataFile);
  const [dragging, setDragging] = useState(false);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const f = e.dataTransfer.files[0];
    if (f) void setDataFile(f);
  };
  return (
    <div
      className={`bench-file${dragging ? ' dragging' : ''}`}
      data-testid="bench-file"
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      {file ? (
        <span>
          Items from <strong className="mono">{file.name}</strong> ({formatBytes(file.bytes)}
          {file.rows !== undefined ? `, ${file.rows} rows` : ''}) instead of the task's Hub dataset.{' '}
          <button className="link" type="button" onClick={() => clearDataFile()}>
            remove
          </button>
          {file.error && (
            <span className="error" data-testid="bench-file-error">
              {' '}
              {file.error}
            </span>
          )}
        </span>
      ) : (
        <label>
          Private or offline items: drop a .jsonl or .parquet file here (the dataset's own fields, for one task) or{' '}
          <input
            aria-label="items file"
            type="file"
            accept=".jsonl,.ndjson,.parquet"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void setDataFile(f);
              e.target.value = '';
            }}
          />
        </label>
      )}
    </div>
  );
}

function RunStatus() {
  const run = useStudio((s) => s.benchmarks.run)!;
  const running = run.status === 'loading' || run.status === 'running';
  return (
    <div className="bench-status" data-testid="bench-status" data-status={run.status}>
      <p>
        <strong>{statusWord(run.status)}</strong> at α = {run.alpha} · {run.condition} · {run.selection}
        {run.seconds !== undefined && ` · ${run.seconds.toFixed(1)} s`}
        {running && <span className="muted"> · {run.phase}… (the playground waits until the run ends: it shares the model)</span>}
      </p>
      {run.itemsTotal > 0 && (
        <div className="progress" data-testid="bench-progress">
          <progress max={run.itemsTotal} value={run.itemsDone} />
          <span>
            {run.itemsDone}/{run.itemsTotal} items
            {run.itemsPerSecond !== undefined && ` · ${run.itemsPerSecond.toFixed(2)} items/s`}
            {running && run.etaSeconds !== undefined && ` · ETA ${formatDuration(run.etaSeconds)}`}
          </span>
        </div>
      )}
      {run.path === 'cpu-copy' && <p className="notice">No WebGPU here: the model runs on the CPU (WASM), which is much slower.</p>}
      {run.pythonStartupMs !== undefined && <p className="muted">Python sandbox (Pyodide, a Web Worker) ready in {Math.round(run.pythonStartupMs)} ms.</p>}
      {run.status === 'cancelled' && <p className="muted">Cancelled: the items that finished are kept below, with their partial scores.</p>}
      {run.error && (
        <p className="error" data-testid="bench-error">
          {run.error}
        </p>
      )}
    </div>
  );
}

function statusWord(s: string): string {
  return { loading: 'Preparing', running: 'Running', done: 'Done', cancelled: 'Cancelled', error: 'Stopped' }[s] ?? s;
}

function ScoreTable() {
  const run = useStudio((s) => s.benchmarks.run)!;
  const done = run.status === 'done' || run.status === 'error';
  return (
    <>
      <table className="bench-scores" data-testid="bench-scores">
        <thead>
          <tr>
            <th>task</th>
            <th>metric</th>
            <th>score</th>
            <th>95% interval (Wilson)</th>
            <th>stderr (lm-eval)</th>
            <th>n</th>
            <th>items from</th>
          </tr>
        </thead>
        <tbody>
          {run.tasks.flatMap((t) => taskRows(t))}
          {run.group && (
            <tr data-testid="bench-group">
              <td className="mono">{run.group.name}</td>
              <td className="mono">{BBH_GROUP.metricKey}</td>
              <td>{run.group.mean.toFixed(4)}</td>
              <td className="muted">unweighted mean of {run.group.subtasks} subtasks</td>
              <td>{run.group.stderr === null ? 'N/A' : run.group.stderr.toFixed(4)}</td>
              <td>{run.group.n}</td>
              <td />
            </tr>
          )}
        </tbody>
      </table>
      <p className="bench-downloads">
        {done && <DownloadButton name="results.json" text={resultsJson} />} <DownloadButton name="samples.jsonl" text={() => samplesJsonl() || undefined} />
      </p>
    </>
  );
}

function taskRows(t: BenchmarkTaskState) {
  const dataCell = (
    <td className="mono" data-testid="bench-data" title={t.revision ?? undefined}>
      {t.source ?? '—'}
      {t.revision ? ` @ ${t.revision.slice(0, 12)}` : ''}
      {t.rows !== undefined && <span className="muted"> ({t.total} of {t.rows} rows)</span>}
    </td>
  );
  const state =
    t.status === 'error' ? <span className="error">{t.error}</span>
    : t.status === 'loading' ? (t.download ? `downloading ${t.download.file}: ${formatBytes(t.download.bytesDone)} of ${formatBytes(t.download.bytesTotal)}` : 'reading items…')
    : t.status === 'running' ? `running: ${t.done}/${t.total}`
    : t.status === 'waiting' ? 'waiting'
    : t.status === 'cancelled' ? 'cancelled'
    : '';
  if (!t.summary || t.summary.n === 0) {
    return [
      <tr key={t.task} data-testid="bench-task" data-task={t.task} data-status={t.status}>
        <td className="mono">{t.task}</td>
        <td colSpan={5}>{state}</td>
        {dataCell}
      </tr>,
    ];
  }
  const { n, metrics, stderr } = t.summary;
  const partial = t.status !== 'done';
  return Object.keys(metrics).map((key, k) => {
    const correct = Math.round(metrics[key] * n);
    const { low, high } = wilsonInterval(correct, n);
    const se = stderr[key];
    return (
      <tr key={`${t.task}/${key}`} data-testid="bench-score" data-task={t.task} data-metric={key} data-value={metrics[key]} data-correct={correct} data-n={n} data-status={t.status}>
        <td className="mono">
          {k === 0 ? t.task : ''}
          {k === 0 && t.maxNewTokens !== undefined && <div className="muted">≤ {t.maxNewTokens} new tokens</div>}
        </td>
        <td className="mono">{key}</td>
        <td>
          <strong>{metrics[key].toFixed(4)}</strong> ({correct}/{n}){partial && <span className="muted"> — {state || t.status}, partial</span>}
        </td>
        <td data-testid="bench-interval" data-low={low} data-high={high}>
          [{low.toFixed(3)}, {high.toFixed(3)}]
        </td>
        <td>{se === null || se === undefined ? 'N/A' : se.toFixed(4)}</td>
        <td>{n}</td>
        {k === 0 ? dataCell : <td />}
      </tr>
    );
  });
}

/** Builds the file when clicked (a long run's samples are not kept twice). */
function DownloadButton({ name, text }: { name: string; text: () => string | undefined }) {
  return (
    <button
      className="secondary"
      type="button"
      onClick={() => {
        const body = text();
        if (body === undefined) return;
        const url = URL.createObjectURL(new Blob([body], { type: name.endsWith('.json') ? 'application/json' : 'application/x-ndjson' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      }}
    >
      Download {name}
    </button>
  );
}

function ItemsTable({ samples }: { samples: BenchmarkItem[] }) {
  const [task, setTask] = useState('');
  const [onlyWrong, setOnlyWrong] = useState(false);
  const [limit, setLimit] = useState(ITEMS_PAGE);
  const tasks = [...new Set(samples.map((s) => s.task))];
  const shown = samples.filter((s) => (!task || s.task === task) && (!onlyWrong || Object.values(s.metrics)[0] === 0));
  return (
    <div className="bench-items">
      <h3>Items</h3>
      <div className="merge-controls">
        <label>
          task{' '}
          <select aria-label="items of task" value={task} onChange={(e) => setTask(e.target.value)}>
            <option value="">all ({samples.length})</option>
            {tasks.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={onlyWrong} onChange={(e) => setOnlyWrong(e.target.checked)} /> only items the first metric marks wrong
        </label>
      </div>
      <table className="bench-item-table" data-testid="bench-items">
        <thead>
          <tr>
            <th>task · row</th>
            <th>prompt</th>
            <th>output</th>
            <th>extracted</th>
            <th>verdict</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(0, limit).map((s) => (
            <ItemRow key={`${s.task}/${s.index}`} s={s} />
          ))}
        </tbody>
      </table>
      {shown.length > limit && (
        <button className="secondary" onClick={() => setLimit(limit + ITEMS_PAGE)}>
          Show {Math.min(ITEMS_PAGE, shown.length - limit)} more of {shown.length - limit}
        </button>
      )}
    </div>
  );
}

function ItemRow({ s }: { s: BenchmarkItem }) {
  // The end of a prompt is the item itself (few-shot exemplars come first).
  const tail = s.prompt.replace(/\s+/g, ' ').trim();
  return (
    <tr data-testid="bench-item" data-task={s.task} data-index={s.index} data-metrics={JSON.stringify(s.metrics)}>
      <td className="mono">
        {s.task}
        <br />#{s.index}
      </td>
      <td className="bench-prompt">
        <details>
          <summary>
            {tail.length > 100 ? `…${tail.slice(-100)}` : tail} <span className="muted">({s.prompt.length} chars)</span>
          </summary>
          <pre data-testid="bench-prompt">{s.prompt}</pre>
        </details>
        {s.truncated_tokens !== undefined && (
          <span className="notice-inline" data-testid="bench-truncated" data-tokens={s.truncated_tokens}>
            {s.truncated_tokens} token{s.truncated_tokens === 1 ? '' : 's'} cut from the left (model context)
          </span>
        )}
      </td>
      <td>{s.continuations ? <Choices s={s} /> : <pre data-testid="bench-output">{s.output}</pre>}</td>
      <td>
        {Object.entries(s.extracted).map(([filter, value]) => (
          <div key={filter} data-testid="bench-extracted" data-filter={filter}>
            <span className="muted">{filter}:</span> <span className="mono">{value}</span>
          </div>
        ))}
      </td>
      <td>
        {Object.entries(s.metrics).map(([key, v]) => (
          <div key={key} className={v ? 'bench-pass' : 'bench-fail'} data-testid="bench-verdict" data-metric={key} data-value={v}>
            {v ? '✓' : '✗'} <span className="mono">{key}</span>
          </div>
        ))}
        {s.reference && s.reference.choice === undefined && (
          <div className="muted" data-testid="bench-reference">
            reference: <span className="mono">{s.reference.text}</span>
          </div>
        )}
      </td>
    </tr>
  );
}

/** Log-likelihood tasks: each choice with its log-likelihood; the model's pick (acc's argmax) in bold. */
function Choices({ s }: { s: BenchmarkItem }) {
  const cs = s.continuations!;
  const best = cs.reduce((b, c, i) => (c.loglikelihood > cs[b].loglikelihood ? i : b), 0);
  return (
    <ol className="bench-choices-list" data-testid="bench-output" data-loglikelihoods={JSON.stringify(cs.map((c) => c.loglikelihood))}>
      {cs.map((c, i) => (
        <li key={i} className={i === best ? 'bench-best' : undefined}>
          <span className="mono">{JSON.stringify(c.text)}</span> {c.loglikelihood.toFixed(3)}
          {c.is_greedy && <span className="muted"> (greedy)</span>}
          {i === s.reference?.choice && (
            <span className="bench-pass" data-testid="bench-gold">
              {' '}
              ← correct
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
