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
      <button className="secondary" onClick={() => void clearOpfsCache()}>
        Clear download cache
      </button>
    </details>
  );
}
