import { useId } from 'react';
import { useStudio } from '../store.ts';

/**
 * The α slider every panel shows (the workspace's α control, the merge panel, the playground); all
 * of them edit the one `merge.alpha`. Without a sweep its range covers the interesting part of the
 * curve; with a sweep shown (run here or opened from a link) the range is that sweep's grid, with
 * a tick at each grid α, so the slider walks the plotted points. The number boxes accept any α,
 * and a range input silently clamps what it shows, so an α outside the range pins the thumb to the
 * nearer end and says so beside it.
 */
export const ALPHA_SLIDER = { min: -2, max: 2, step: 0.05 } as const;

export interface AlphaRange {
  min: number;
  max: number;
  step: number;
  /** The sweep's grid, when the range follows one. */
  grid?: readonly number[];
}

/** The slider's range now: the shown sweep's grid, else the default. */
export function useAlphaRange(): AlphaRange {
  const alphas = useStudio((s) => s.sweep.document?.alphas);
  if (!alphas || alphas.length < 2) return ALPHA_SLIDER;
  // The grid is ascending (results-document.ts validates it); steps of 0.05 reach every typed grid α of the paper's kind.
  return { min: alphas[0], max: alphas[alphas.length - 1], step: Math.min(ALPHA_SLIDER.step, smallestGap(alphas)), grid: alphas };
}

function smallestGap(a: readonly number[]): number {
  let g = Infinity;
  for (let i = 1; i < a.length; i++) g = Math.min(g, a[i] - a[i - 1]);
  return g;
}

export function AlphaSlider({ label, alpha, onChange }: { label: string; alpha: number; onChange: (alpha: number) => void }) {
  const range = useAlphaRange();
  const ticks = useId();
  const finite = Number.isFinite(alpha);
  const outside = finite && (alpha < range.min || alpha > range.max);
  return (
    <span className="alpha-slider">
      <input
        aria-label={label}
        type="range"
        min={range.min}
        max={range.max}
        step={range.step}
        list={range.grid ? ticks : undefined}
        value={finite ? Math.min(range.max, Math.max(range.min, alpha)) : 0}
        onChange={(e) => onChange(Number(e.target.value))}
      />
      {range.grid && (
        <datalist id={ticks}>
          {range.grid.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      )}
      {outside && (
        <span className="notice-inline" data-testid="alpha-outside">
          α = {alpha} is outside the slider’s range ({range.min} to {range.max}{range.grid ? ', the sweep’s grid' : ''}); the slider shows{' '}
          {alpha > range.max ? range.max : range.min}, the merge uses {alpha}.
        </span>
      )}
    </span>
  );
}
