import { ROLES } from '../../engine/checkpoint/compatibility.ts';
import { useStudio } from '../store.ts';
import { SlotCard } from './SlotCard.tsx';
import { useVerdict, VerdictPanel } from './VerdictPanel.tsx';

const BADGE: Record<string, string> = { compatible: '✓', 'compatible-with-warnings': '!', incompatible: '✗' };

/**
 * The trio across the top of the workspace: the three cards (folded to one line each once
 * loaded) and the verdict as a badge, whose per-tensor table opens on demand.
 */
export function TrioBar() {
  const verdict = useVerdict('merge');
  const missing = useStudio((s) => ROLES.filter((r) => !s.slots[r].summary).length);
  return (
    <section className="trio" aria-label="the trio: SFT donor, RL donor, target">
      <div className="slots">
        {ROLES.map((r) => (
          <SlotCard key={r} role={r} />
        ))}
      </div>
      <details className="trio-verdict" data-testid="verdict-details">
        <summary>
          {verdict ? (
            <>
              <span className={`verdict-badge ${verdict.status}`} data-testid="verdict-badge" data-status={verdict.status}>
                <span aria-hidden="true">{BADGE[verdict.status] ?? '?'}</span>
              </span>{' '}
              {verdict.headline} <span className="muted">— per-tensor table</span>
            </>
          ) : (
            <span className="muted">
              Compatibility: waiting for {missing} more checkpoint{missing === 1 ? '' : 's'}
            </span>
          )}
        </summary>
        <div className="trio-verdict-body">
          <VerdictPanel />
        </div>
      </details>
    </section>
  );
}
