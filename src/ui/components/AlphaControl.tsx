import { useId } from 'react';
import { useAlphaLinkNotice } from '../session/alpha-hash.ts';
import { useStudio } from '../store.ts';
import { AlphaSlider, useAlphaRange } from './AlphaSlider.tsx';

/**
 * The workspace's α: one number box and one slider at the top, which every panel follows (the
 * merge panel, the α explorer, the benchmarks' "Run at α", the heatmap all read `merge.alpha`).
 * Kept in the URL's hash (session/alpha-hash.ts), so a reload keeps it.
 */
export function AlphaControl() {
  const alpha = useStudio((s) => s.merge.alpha);
  const patch = useStudio((s) => s.patchMerge);
  const range = useAlphaRange();
  const linkNotice = useAlphaLinkNotice((s) => s.notice);
  const problemId = useId();
  const finite = Number.isFinite(alpha);
  return (
    <div className="alpha-control" data-testid="alpha-control" role="group" aria-label="α for every panel">
      <label className="alpha-control-number">
        <span aria-hidden="true">α</span>
        <input
          aria-label="α"
          type="number"
          step={range.step}
          value={finite ? alpha : ''}
          aria-invalid={finite ? undefined : true}
          aria-describedby={finite ? undefined : problemId}
          onChange={(e) => patch({ alpha: e.target.value === '' ? NaN : Number(e.target.value) })}
        />
      </label>
      <AlphaSlider label="α slider" alpha={alpha} onChange={(a) => patch({ alpha: a })} />
      <span className="muted alpha-control-range" data-testid="alpha-range">
        {range.grid ? `sweep grid ${range.min} … ${range.max}` : `${range.min} … ${range.max}`}
      </span>
      {!finite && (
        <span className="error" id={problemId} data-testid="alpha-problem">
          α must be a finite number.
        </span>
      )}
      {linkNotice && (
        <span className="notice-inline" role="status" data-testid="alpha-link-notice">
          {linkNotice}
        </span>
      )}
    </div>
  );
}
