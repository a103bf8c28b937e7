import { useMemo, useState } from 'react';
import { compatibilityVerdict, ROLES, type Severity } from '../../engine/checkpoint/compatibility.ts';
import { useStudio } from '../store.ts';

const ORDER: Severity[] = ['error', 'warning', 'info'];

export function VerdictPanel() {
  const slots = useStudio((s) => s.slots);
  const [showAll, setShowAll] = useState(false);
  const ready = ROLES.every((r) => slots[r].summary);
  const verdict = useMemo(
    () => (ready ? compatibilityVerdict({ sft: slots.sft.summary!, rl: slots.rl.summary!, target: slots.target.summary! }) : undefined),
    [ready, slots.sft.summary, slots.rl.summary, slots.target.summary],
  );
  if (!verdict) {
    const missing = ROLES.filter((r) => !slots[r].summary).length;
    return (
      <section className="verdict pending" data-testid="verdict">
        <h2>Compatibility</h2>
        <p>
          Waiting for {missing} more checkpoint{missing === 1 ? '' : 's'}. The verdict is computed from headers only, before any weight is
          downloaded.
        </p>
      </section>
    );
  }
  const items = [...verdict.items].sort((a, b) => ORDER.indexOf(a.severity) - ORDER.indexOf(b.severity));
  const shown = showAll ? items : items.slice(0, 50);
  return (
    <section className={`verdict ${verdict.status}`} data-testid="verdict">
      <h2>Compatibility</h2>
      <p className="headline" data-testid="verdict-headline">
        {verdict.headline}
      </p>
      <p className="muted">Output dtype: {verdict.outputDtypes.join(', ')} (the target's).</p>
      {items.length > 0 && (
        <table className="verdict-items">
          <thead>
            <tr>
              <th>severity</th>
              <th>tensor</th>
              <th>SFT</th>
              <th>RL</th>
              <th>target</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((it, i) => (
              <tr key={i} className={it.severity}>
                <td>{it.severity}</td>
                <td className="mono">{it.tensor ?? '—'}</td>
                {ROLES.map((r) => (
                  <td key={r} className="mono">
                    {it.shapes ? (it.shapes[r] ? `[${it.shapes[r]!.join(', ')}]` : 'absent') : ''}
                  </td>
                ))}
                <td>{it.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items.length > shown.length && (
        <button className="secondary" onClick={() => setShowAll(true)}>
          Show all {items.length}
        </button>
      )}
    </section>
  );
}
