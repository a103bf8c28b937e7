import { useState } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { wilsonInterval } from '../../engine/eval/wilson-interval.ts';
import type { SweepResultsDocument } from '../../engine/sweep/index.ts';
import { copyShareLink, selectPoint, sweepSamples } from '../session/sweep-session.ts';
import { useStudio } from '../store.ts';
import { AccuracyPlot, AccuracyTable } from './AccuracyPlot.tsx';
import { SweepItems } from './SweepItems.tsx';
import { SweepRepeat } from './SweepRepeat.tsx';

/**
 * A sweep's results: the plot (a point opens its items), the data table behind it, the exports
 * (PNG, SVG, JSON, CSV), the share link and the commands that repeat it at full scale.
 */
export function SweepResults() {
  const sweep = useStudio((s) => s.sweep);
  const doc = sweep.document!;
  const metricsAll = [...new Set(doc.points.map((p) => p.metric))];
  const [metrics, setMetrics] = useState<string[] | undefined>(undefined);
  const [tableShown, setTableShown] = useState(false);
  const shown = metrics?.filter((m) => metricsAll.includes(m));
  const title = plotTitle(doc);
  return (
    <div className="sweep-results" data-testid="sweep-results">
      <figure className="sweep-figure">
        <AccuracyPlot points={doc.points} metrics={shown} title={title} selected={sweep.selected} onSelectPoint={(series, alpha) => selectPoint(series, alpha)} />
        <figcaption className="muted">
          Points are accuracy (correct/total) at each α; bars and bands are Wilson 95% intervals. Click a point, or focus it with Tab and press Enter, to read
          its items.
        </figcaption>
      </figure>
      <div className="merge-controls">
        {metricsAll.length > 1 && (
          <fieldset className="sweep-metrics">
            <legend>metrics drawn</legend>
            {metricsAll.map((m) => (
              <label key={m}>
                <input
                  type="checkbox"
                  aria-label={`metric ${m}`}
                  checked={!shown || shown.includes(m)}
                  onChange={(e) => setMetrics(metricsAll.filter((x) => (x === m ? e.target.checked : !shown || shown.includes(x))))}
                />{' '}
                <span className="mono">{m}</span>
              </label>
            ))}
          </fieldset>
        )}
        <button type="button" className="secondary" aria-expanded={tableShown} aria-controls="sweep-table" onClick={() => setTableShown(!tableShown)}>
          {tableShown ? 'Hide the data table' : 'Show the data table'}
        </button>
      </div>
      <div id="sweep-table">
        <AccuracyTable points={doc.points} metrics={shown} hidden={!tableShown} />
      </div>
      <SweepExports doc={doc} title={title} metrics={shown} />
      <ShareLink />
      <SweepRepeat doc={doc} />
      {sweep.selected && <SweepItems />}
    </div>
  );
}

function plotTitle(doc: SweepResultsDocument): string {
  const tasks = [...new Set(doc.tasks.map((t) => t.task))];
  return `Accuracy against α · ${tasks.length <= 3 ? tasks.join(', ') : `${tasks.length} tasks`}`;
}

/** The exported SVG: the same component, rendered static — the bytes `studio sweep --plot` writes for this document. */
export function plotSvg(doc: SweepResultsDocument, title: string, metrics?: string[]): string {
  return renderToStaticMarkup(<AccuracyPlot static points={doc.points} metrics={metrics} title={title} />);
}

/** One row per point, with the Wilson 95% interval. */
export function pointsCsv(doc: SweepResultsDocument): string {
  const head = 'series,alpha,task,condition,metric,correct,total,accuracy,ci95_low,ci95_high';
  const rows = doc.points.map((p) => {
    const ci = wilsonInterval(p.correct, p.total);
    return [p.series, p.alpha ?? '', p.task, p.condition, p.metric, p.correct, p.total, p.correct / p.total, ci.low, ci.high].map(csvField).join(',');
  });
  return [head, ...rows].join('\n') + '\n';
}

function csvField(x: string | number): string {
  const s = String(x);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The SVG drawn onto a canvas at twice its size (a crisp PNG on a high-density screen). */
async function svgToPng(svg: string): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth * 2;
    canvas.height = img.naturalHeight * 2;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the canvas gave no PNG'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

function SweepExports({ doc, title, metrics }: { doc: SweepResultsDocument; title: string; metrics?: string[] }) {
  const [error, setError] = useState<string>();
  const samples = sweepSamples();
  return (
    <p className="bench-downloads" data-testid="sweep-exports">
      <button className="secondary" type="button" onClick={() => download('accuracy-vs-alpha.svg', new Blob([plotSvg(doc, title, metrics)], { type: 'image/svg+xml' }))}>
        SVG
      </button>
      <button
        className="secondary"
        type="button"
        onClick={() =>
          void svgToPng(plotSvg(doc, title, metrics))
            .then((b) => download('accuracy-vs-alpha.png', b))
            .catch((e) => setError(`PNG: ${(e as Error).message}`))
        }
      >
        PNG
      </button>
      <button className="secondary" type="button" onClick={() => download('results.json', new Blob([JSON.stringify(doc, null, 2) + '\n'], { type: 'application/json' }))}>
        JSON
      </button>
      {samples.length > 0 && (
        <button
          className="secondary"
          type="button"
          title="The results document with every item's prompt, output, extracted answer and verdict (as studio sweep --samples)"
          onClick={() => download('results-with-samples.json', new Blob([JSON.stringify({ ...doc, samples }, null, 2) + '\n'], { type: 'application/json' }))}
        >
          JSON with items
        </button>
      )}
      <button className="secondary" type="button" onClick={() => download('points.csv', new Blob([pointsCsv(doc)], { type: 'text/csv' }))}>
        CSV
      </button>
      {error && <span className="error">{error}</span>}
    </p>
  );
}

function ShareLink() {
  const share = useStudio((s) => s.sweep.share);
  return (
    <div className="sweep-share">
      <button type="button" data-testid="share-copy" onClick={() => void copyShareLink()}>
        Copy share link
      </button>{' '}
      {share && 'url' in share && (
        <>
          <input className="mono sweep-share-url" aria-label="share link" data-testid="share-url" readOnly value={share.url} onFocus={(e) => e.target.select()} />
          <span className="muted" data-testid="share-size">
            {' '}
            {share.url.length.toLocaleString('en-US')} characters{share.droppedVerdicts ? ' — per-item verdicts left out to keep the link short' : ''}. Anyone who opens it sees
            this plot without downloading a model; it holds no token.
          </span>
        </>
      )}
      {share && 'error' in share && (
        <span className="error" data-testid="share-error">
          {share.error}
        </span>
      )}
    </div>
  );
}
