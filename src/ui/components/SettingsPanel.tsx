import { useState } from 'react';
import { useStudio } from '../store.ts';
import { clearDownloadsAndExports, clearProblem, storedBytes, type StoredBytes } from '../session/clear-storage.ts';
import { formatBytes } from '../format.ts';
import { NumberField } from './NumberField.tsx';

export function SettingsPanel() {
  const settings = useStudio((s) => s.settings);
  const setSettings = useStudio((s) => s.setSettings);
  return (
    <details className="settings">
      <summary>Settings</summary>
      <label>
        Hub endpoint
        <input aria-label="Hub endpoint" value={settings.hubUrl} onChange={(e) => setSettings({ hubUrl: e.target.value.trim() })} spellCheck={false} />
      </label>
      <label>
        Access token (gated or private repos; kept in this tab's memory only)
        <input
          aria-label="Access token"
          type="password"
          autoComplete="off"
          value={settings.token}
          placeholder="hf_…"
          onChange={(e) => setSettings({ token: e.target.value.trim() })}
        />
      </label>
      <label>
        GPU memory for the merged model (GiB) — WebGPU cannot tell how much is free; above it, each α re-reads the checkpoints
        {/* Any size above 0: a budget below the model's size is how one makes each α stream from the checkpoints. */}
        <NumberField label="GPU memory budget" value={settings.gpuBudgetGiB} rule={{ above: 0 }} step={0.5} onCommit={(v) => v !== null && setSettings({ gpuBudgetGiB: v })} />
      </label>
      <ClearStorage />
    </details>
  );
}

/**
 * "Clear downloads and exports": asks first (with what is stored), then says what it removed.
 * Inline rather than window.confirm, so the question shows the sizes and stays on the page.
 */
function ClearStorage() {
  const [step, setStep] = useState<{ kind: 'idle' } | { kind: 'asking'; bytes: StoredBytes } | { kind: 'busy' } | { kind: 'done' | 'error'; text: string }>({ kind: 'idle' });
  const ask = async () => {
    const problem = clearProblem();
    if (problem) return setStep({ kind: 'error', text: problem });
    try {
      setStep({ kind: 'asking', bytes: await storedBytes() });
    } catch (e) {
      setStep({ kind: 'error', text: `Could not read this site's storage: ${(e as Error).message}` });
    }
  };
  const clear = async () => {
    setStep({ kind: 'busy' });
    try {
      setStep({ kind: 'done', text: (await clearDownloadsAndExports()).message });
    } catch (e) {
      setStep({ kind: 'error', text: (e as Error).message });
    }
  };
  return (
    <div className="clear-storage" data-testid="clear-storage">
      {step.kind === 'asking' ? (
        <p role="alert" data-testid="clear-confirm">
          Really clear? This removes {formatBytes(step.bytes.downloads)} of downloaded weights and datasets and {formatBytes(step.bytes.exports)} of exports from
          this site's storage; Hub checkpoints are downloaded again when needed.{' '}
          <button onClick={() => void clear()}>Clear</button>{' '}
          <button className="secondary" onClick={() => setStep({ kind: 'idle' })}>
            Keep
          </button>
        </p>
      ) : (
        <button className="secondary" disabled={step.kind === 'busy'} onClick={() => void ask()}>
          Clear downloads and exports
        </button>
      )}
      {(step.kind === 'done' || step.kind === 'error') && (
        <p className={step.kind === 'error' ? 'error' : 'muted'} role="status" data-testid="clear-result">
          {step.text}
        </p>
      )}
    </div>
  );
}
