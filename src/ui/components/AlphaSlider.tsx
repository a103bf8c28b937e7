/**
 * The α slider of the merge panel and the playground. Its range covers the interesting part of
 * the curve; the number box accepts any α, and a range input silently clamps what it shows, so
 * an α outside the range pins the thumb to the nearer end and says so beside it.
 */
export const ALPHA_SLIDER = { min: -2, max: 2, step: 0.05 } as const;

export function AlphaSlider({ label, alpha, onChange }: { label: string; alpha: number; onChange: (alpha: number) => void }) {
  const finite = Number.isFinite(alpha);
  const outside = finite && (alpha < ALPHA_SLIDER.min || alpha > ALPHA_SLIDER.max);
  return (
    <span className="alpha-slider">
      <input
        aria-label={label}
        type="range"
        min={ALPHA_SLIDER.min}
        max={ALPHA_SLIDER.max}
        step={ALPHA_SLIDER.step}
        value={finite ? Math.min(ALPHA_SLIDER.max, Math.max(ALPHA_SLIDER.min, alpha)) : 0}
        onChange={(e) => onChange(Number(e.target.value))}
      />
      {outside && (
        <span className="notice-inline" data-testid="alpha-outside">
          α = {alpha} is outside the slider’s range ({ALPHA_SLIDER.min} to {ALPHA_SLIDER.max}); the slider shows{' '}
          {alpha > 0 ? ALPHA_SLIDER.max : ALPHA_SLIDER.min}, the merge uses {alpha}.
        </span>
      )}
    </span>
  );
}
