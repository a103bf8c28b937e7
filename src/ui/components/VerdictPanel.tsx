import { useMemo, useState } from 'react';
import { compatibilityVerdict, ROLES, type Severity, type Verdict } from '../../engine/checkpoint/compatibility.ts';
import { refusalMessage, type MergeMode } from '../../engine/merge/decide-merge.ts';
import { useStudio } from '../store.ts';

const ORDER: Severity[] = ['error', 'warning', 'info'];

/**
 * The verdict on what the page would do now — merge the trio, or save the donors' vector — under
 * the vocab policy and output dtype chosen in the merge panel. The same rules planMerge applies
 * before every merge (engine/merge/decide-merge.ts), so what this says is what *Merge*, *Save*
 * and *Generate* will do; undefined until the three slots hold checkpoints.
 */
export function useVerdict(mode: MergeMode = 'merge'): Verdict | undefined {
  const sft = useStudio((s) => s.slots.sft.summary);
  const rl = useStudio((s) => s.slots.rl.summary);
  const target = useStudio((s) => s.slots.target.summary);
  const vocabPolicy = useStudio((s) => s.merge.vocabPolicy);
  const outDtype = useStudio((s) => s.merge.outDtype);
  return useMemo(
    () => (sft && rl && target ? compatibilityVerdict({ sft, rl, target }, { mode, vocabPolicy, outDtype: outDtype === 'target' ? undefined : outDtype }) : undefined),
    [sft, rl, target, mode, vocabPolicy, outDtype],
  );
}

/** Why the verdict says no, in the page's words: each problem, and the vocab policy (in the merge panel's menu) that would allow it. */
export function pageRefusal(v: Verdict): string {
  return refusalMessage(v, (p) => `"${p}" under "vocab sizes differ" in the merge panel`);
}

export function VerdictPanel() {
  const slots = useStudio((s) => s.slots);
  const outDtype = useStudio((s) => s.merge.outDtype);
  const [showAll, setShowAll] = useState(false);
  const verdict = useVerdict('merge');
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
      {!verdict.ok && (
        <p className="error" data-testid="verdict-reason">
          {pageRefusal(verdict)}
        </p>
      )}
      <p className="muted">
        Vocab policy: {verdict.policy} · output dtype: {verdict.outputDtypes.join(', ') || '—'} ({outDtype === 'target' ? "the target's" : 'chosen in the merge panel'}).
      </p>
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
