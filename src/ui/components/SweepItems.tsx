import { useState } from 'react';
import { selectItems } from '../../engine/eval/select-items.ts';
import { decodeVerdicts, type SweepPoint, type SweepResultsDocument, type SweepSample } from '../../engine/sweep/index.ts';
import { selectPoint, sweepSamples } from '../session/sweep-session.ts';
import { useStudio } from '../store.ts';
import { formatAlpha, percent } from './AccuracyPlot.tsx';

/** Rows added per "show more". */
const PAGE = 50;

type Curve = Pick<SweepPoint, 'series' | 'task' | 'condition' | 'metric'>;

/** The curve key AccuracyPlot gives a point (curveKey) back as its parts. */
function parseCurve(key: string): Curve {
  const [series, task, condition, ...metric] = key.split('|');
  return { series: series as SweepPoint['series'], task, condition: condition as SweepPoint['condition'], metric: metric.join('|') };
}

/** One item's verdict at a point: from the page's own items, else from the point's verdict bits (a shared link). */
interface ItemVerdict {
  /** Row of the dataset. */
  index: number;
  verdict: 0 | 1;
  sample?: SweepSample;
}

function verdictsAt(doc: SweepResultsDocument, samples: readonly SweepSample[], c: Curve, alpha: number): ItemVerdict[] | undefined {
  const own = samples.filter((s) => s.series === c.series && s.alpha === alpha && s.task === c.task && s.condition === c.condition && c.metric in s.metrics);
  if (own.length) return own.map((s) => ({ index: s.index, verdict: s.metrics[c.metric], sample: s }));
  const point = doc.points.find((p) => p.series === c.series && p.alpha === alpha && p.task === c.task && p.condition === c.condition && p.metric === c.metric);
  const bits = point?.verdicts !== undefined ? decodeVerdicts(point.verdicts, point.total) : undefined;
  if (!point || !bits) return undefined;
  // Bit i is the i-th item of the task's selection: the dataset rows are selectItems(rows, selection).
  const t = doc.tasks.find((x) => x.task === c.task && x.conditions.includes(c.condition));
  if (!t) return undefined;
  const sel = t.selection;
  const rows = selectItems(t.data.rows, sel.mode === 'shuffle' ? { mode: 'shuffle', count: sel.count ?? t.data.rows, seed: sel.seed ?? 0 } : { mode: 'first-n', count: sel.count ?? t.data.rows });
  return bits.map((verdict, i) => ({ index: rows[i], verdict }));
}

/**
 * The items behind the chosen point — prompt, output, extracted answer, verdict — and the filter
 * a reader asks for next: which items changed their verdict between two α (what v fixed, what it
 * broke).
 */
export function SweepItems() {
  const sweep = useStudio((s) => s.sweep);
  useStudio((s) => s.sweep.samplesVersion); // re-render as items arrive
  const doc = sweep.document!;
  const selected = sweep.selected!;
  const curve = parseCurve(selected.series);
  const alphas = curve.series === 'v' || curve.series === 'control' ? doc.alphas : [];
  const [mode, setMode] = useState<'at' | 'changed'>('at');
  const [from, setFrom] = useState<number>(alphas.includes(0) ? 0 : (alphas[0] ?? 0));
  const [limit, setLimit] = useState(PAGE);
  const samples = sweepSamples();
  const at = verdictsAt(doc, samples, curve, selected.alpha);
  const before = mode === 'changed' ? verdictsAt(doc, samples, curve, from) : undefined;
  const beforeOf = new Map(before?.map((x) => [x.index, x.verdict]));
  const changed = at?.filter((x) => beforeOf.has(x.index) && beforeOf.get(x.index) !== x.verdict) ?? [];
  const fixed = changed.filter((x) => x.verdict === 1).length;
  const rows = mode === 'at' ? (at ?? []) : changed;
  const point = doc.points.find((p) => p.series === curve.series && p.alpha === (alphas.length ? selected.alpha : null) && p.task === curve.task && p.condition === curve.condition && p.metric === curve.metric);
  const name = `${curve.task} · ${curve.condition} · ${curve.metric} · ${curve.series === 'v' ? 'target + α·v' : curve.series === 'control' ? 'control vector' : `${curve.series} alone`}`;

  return (
    <section className="sweep-items" data-testid="sweep-items" aria-label="items of the chosen point" data-series={selected.series} data-alpha={selected.alpha}>
      <h3>
        Items at α = {formatAlpha(selected.alpha)} — <span className="mono">{name}</span>
        {point && (
          <span className="muted">
            {' '}
            {percent(point.correct, point.total)} ({point.correct}/{point.total})
          </span>
        )}{' '}
        <button type="button" className="link" onClick={() => selectPoint(undefined)}>
          close
        </button>
      </h3>
      {alphas.length > 1 && (
        <div className="merge-controls" role="radiogroup" aria-label="which items">
          <label>
            <input type="radio" name="sweep-items-mode" checked={mode === 'at'} onChange={() => setMode('at')} /> every item at α = {formatAlpha(selected.alpha)}
          </label>
          <label>
            <input type="radio" name="sweep-items-mode" aria-label="verdict changed" checked={mode === 'changed'} onChange={() => setMode('changed')} /> only items whose verdict
            changed between α₁ ={' '}
            <select aria-label="α₁" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
              {alphas.map((a) => (
                <option key={a} value={a}>
                  {formatAlpha(a)}
                </option>
              ))}
            </select>{' '}
            and α₂ ={' '}
            <select aria-label="α₂" value={selected.alpha} onChange={(e) => selectPoint(selected.series, Number(e.target.value))}>
              {alphas.map((a) => (
                <option key={a} value={a}>
                  {formatAlpha(a)}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {mode === 'changed' && at && before && (
        <p data-testid="sweep-changed" data-fixed={fixed} data-broken={changed.length - fixed}>
          From α = {formatAlpha(from)} to α = {formatAlpha(selected.alpha)}: <strong className="bench-pass">{fixed} fixed</strong> (wrong → right),{' '}
          <strong className="bench-fail">{changed.length - fixed} broken</strong> (right → wrong), {at.length - changed.length} unchanged.
        </p>
      )}
      {!at && (
        <p className="muted" data-testid="sweep-items-none">
          {sweep.origin === 'link'
            ? 'This link carries counts, not the items themselves: Re-run to read every prompt and answer.'
            : 'No items are held for this point (it was computed before this page was opened and its items were not stored).'}
        </p>
      )}
      {at && mode === 'changed' && !before && <p className="muted">No per-item verdicts at α = {formatAlpha(from)} to compare with.</p>}
      {rows.length > 0 && (
        <table className="bench-item-table" data-testid="sweep-item-table">
          <caption className="visually-hidden">Items of {name} at α = {formatAlpha(selected.alpha)}</caption>
          <thead>
            <tr>
              <th scope="col">row</th>
              <th scope="col">prompt</th>
              <th scope="col">output</th>
              <th scope="col">extracted</th>
              <th scope="col">verdict</th>
              {mode === 'changed' && <th scope="col">at α₁</th>}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, limit).map((x) => (
              <ItemRow key={x.index} x={x} metric={curve.metric} before={mode === 'changed' ? beforeOf.get(x.index) : undefined} />
            ))}
          </tbody>
        </table>
      )}
      {rows.length > limit && (
        <button className="secondary" onClick={() => setLimit(limit + PAGE)}>
          Show {Math.min(PAGE, rows.length - limit)} more of {rows.length - limit}
        </button>
      )}
    </section>
  );
}

function ItemRow({ x, metric, before }: { x: ItemVerdict; metric: string; before?: 0 | 1 }) {
  const s = x.sample;
  const tail = s ? s.prompt.replace(/\s+/g, ' ').trim() : '';
  return (
    <tr data-testid="sweep-item" data-index={x.index} data-verdict={x.verdict}>
      <td className="mono">#{x.index}</td>
      <td className="bench-prompt">
        {s ? (
          <details>
            <summary>
              {tail.length > 100 ? `…${tail.slice(-100)}` : tail} <span className="muted">({s.prompt.length} chars)</span>
            </summary>
            <pre>{s.prompt}</pre>
          </details>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>{s ? s.continuations ? <Choices s={s} /> : <pre>{s.output}</pre> : <span className="muted">—</span>}</td>
      <td>
        {s &&
          Object.entries(s.extracted).map(([filter, value]) => (
            <div key={filter}>
              <span className="muted">{filter}:</span> <span className="mono">{value}</span>
            </div>
          ))}
      </td>
      <td className={x.verdict ? 'bench-pass' : 'bench-fail'}>
        {x.verdict ? '✓' : '✗'} <span className="mono">{metric}</span>
      </td>
      {before !== undefined && <td className={before ? 'bench-pass' : 'bench-fail'}>{before ? '✓' : '✗'}</td>}
    </tr>
  );
}

function Choices({ s }: { s: SweepSample }) {
  const cs = s.continuations!;
  const best = cs.reduce((b, c, i) => (c.loglikelihood > cs[b].loglikelihood ? i : b), 0);
  return (
    <ol className="bench-choices-list">
      {cs.map((c, i) => (
        <li key={i} className={i === best ? 'bench-best' : undefined}>
          <span className="mono">{JSON.stringify(c.text)}</span> {c.loglikelihood.toFixed(3)}
        </li>
      ))}
    </ol>
  );
}
