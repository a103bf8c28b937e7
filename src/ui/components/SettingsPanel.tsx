import { useStudio } from '../store.ts';
import { clearOpfsCache } from '../../engine/sources/cache/opfs-cache-store.ts';

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
        <input
          aria-label="GPU memory budget"
          type="number"
          min={0.001}
          step={0.5}
          value={settings.gpuBudgetGiB}
          onChange={(e) => {
            const v = Number(e.target.value);
            if (Number.isFinite(v) && v > 0) setSettings({ gpuBudgetGiB: v });
          }}
        />
      </label>
      <button className="secondary" onClick={() => void clearOpfsCache()}>
        Clear downloads and exports
      </button>
    </details>
  );
}
