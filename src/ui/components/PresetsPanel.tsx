import { useState } from 'react';
import { ROLE_LABEL } from '../../engine/checkpoint/compatibility.ts';
import { checkPresetFit, fitError, loadPreset, presets, type Preset, type PresetFit } from '../session/preset-fit.ts';
import { useStudio } from '../store.ts';
import { formatBytes, formatParameterCount } from '../format.ts';
import { MemoryPlanView, Q4PlanView } from './MemoryPlanView.tsx';

type FitState = { preset: string; status: 'checking' } | { preset: string; status: 'done'; fit: PresetFit } | { preset: string; status: 'error'; error: string };

/**
 * The paper's trios, one click each; before anything is downloaded, a preset shows its download
 * size, the browser storage left, and the memory plan this device would use — or why it cannot.
 */
export function PresetsPanel() {
  const [state, setState] = useState<FitState>();
  const budgetGiB = useStudio((s) => s.settings.gpuBudgetGiB);
  const list = presets();
  const check = async (p: Preset) => {
    setState({ preset: p.id, status: 'checking' });
    try {
      const fit = await checkPresetFit(p);
      setState((s) => (s?.preset === p.id ? { preset: p.id, status: 'done', fit } : s));
    } catch (e) {
      setState((s) => (s?.preset === p.id ? { preset: p.id, status: 'error', error: fitError(e) } : s));
    }
  };
  return (
    <details className="presets" data-testid="presets">
      <summary>Paper presets</summary>
      <ul className="preset-list">
        {list.map((p) => (
          <li key={p.id} data-testid={`preset-${p.id}`}>
            <strong>{p.title}</strong> <span className="muted">— {p.note}</span>
            <div className="mono preset-ids">
              {p.sft} · {p.rl} → {p.target}
            </div>
            <div className="toolbar">
              <button className="secondary" onClick={() => void check(p)} disabled={state?.preset === p.id && state.status === 'checking'}>
                Check size and fit
              </button>
              <button className="secondary" onClick={() => loadPreset(p)}>
                Load these three
              </button>
            </div>
            {state?.preset === p.id && <FitView state={state} budgetGiB={budgetGiB} />}
          </li>
        ))}
      </ul>
    </details>
  );
}

function FitView({ state, budgetGiB }: { state: FitState; budgetGiB: number }) {
  if (state.status === 'checking') return <p className="muted">reading the Hub's listings and the safetensors headers…</p>;
  if (state.status === 'error') {
    return (
      <p className="error" role="alert" data-testid="preset-error">
        {state.error}
      </p>
    );
  }
  const { fit } = state;
  const storageOk = fit.storage ? fit.storage.free >= fit.downloadBytes : undefined;
  return (
    <div className="preset-fit" data-testid="preset-fit" data-download-bytes={fit.downloadBytes} data-storage-free={fit.storage?.free}>
      <table className="preset-repos">
        <tbody>
          {fit.repos.map((r) => (
            <tr key={r.role}>
              <td>{ROLE_LABEL[r.role]}</td>
              <td className="mono">
                {r.id}@{r.revision.slice(0, 7)}
              </td>
              <td>
                {formatParameterCount(r.parameters)} · {r.dtypes.join(', ')}
              </td>
              <td data-testid={`preset-bytes-${r.role}`} data-bytes={r.bytes}>
                {formatBytes(r.bytes)} in {r.files} file{r.files === 1 ? '' : 's'}
                {r.cachedBytes >= r.bytes ? ' (cached)' : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="preset-download">
        Download: <strong>{formatBytes(fit.downloadBytes)}</strong> (each repository once, less what the browser cache holds).{' '}
        {fit.storage ? (
          <span data-testid="preset-storage" className={storageOk ? '' : 'error'}>
            Browser storage left: {formatBytes(fit.storage.free)} of a {formatBytes(fit.storage.quota)} quota
            {storageOk ? '.' : ` — not enough: free ${formatBytes(fit.downloadBytes - fit.storage.free)} more, or drop the folders from disk instead.`}
          </span>
        ) : (
          <span data-testid="preset-storage">This browser does not report its storage quota.</span>
        )}
      </p>
      {/* 4-bit when the page would build it so (auto: the float weights do not fit, 4-bit does). */}
      {fit.weights?.weights === 'q4' ? <Q4PlanView weights={fit.weights} budgetGiB={budgetGiB} /> : fit.plan && <MemoryPlanView plan={fit.plan} budgetGiB={budgetGiB} />}
      {fit.planError && (
        <p className="error" data-testid="memory-plan-refused">
          The studio would refuse this trio: {fit.planError}
        </p>
      )}
    </div>
  );
}
