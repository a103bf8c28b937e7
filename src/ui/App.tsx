import { useEffect } from 'react';
import { ROLES } from '../engine/checkpoint/compatibility.ts';
import { AlphaControl } from './components/AlphaControl.tsx';
import { BenchmarksPanel } from './components/BenchmarksPanel.tsx';
import { DemoNote } from './components/DemoNote.tsx';
import { GpuStatus, ResumeAfterLoss } from './components/GpuStatus.tsx';
import { MergePanel } from './components/MergePanel.tsx';
import { Playground } from './components/Playground.tsx';
import { PresetsPanel } from './components/PresetsPanel.tsx';
import { SettingsPanel } from './components/SettingsPanel.tsx';
import { SweepPanel } from './components/SweepPanel.tsx';
import { TrioBar } from './components/TrioBar.tsx';
import { WorkStatus } from './components/WorkStatus.tsx';
import { syncAlphaWithHash } from './session/alpha-hash.ts';
import { startGpu } from './session/gpu.ts';
import { loadDemo } from './session/slot-loader.ts';
import { useStudio } from './store.ts';

/**
 * The workspace. On a wide screen (≥ 1100 px) it fills the window: the header with the one α
 * control and the GPU's work, the trio folded to one line per checkpoint, and under them two
 * columns that scroll on their own — the plot (sweep, benchmarks) and the α explorer (playground,
 * merge) — so the plot and the answers stay side by side whatever either column shows. Details
 * (the per-tensor verdict, settings, presets, a card's facts) open on demand. On a narrow window
 * it is one column that scrolls as a page.
 */
export function App() {
  useEffect(() => {
    void startGpu();
    return syncAlphaWithHash();
  }, []);
  const trioReady = useStudio((s) => ROLES.every((r) => s.slots[r].status === 'ready'));
  return (
    <main className="workspace">
      <header className="ws-header">
        <div className="ws-title">
          <h1>Reasoning-vector studio</h1>
          <p className="muted ws-formula">
            v = θ<sub>RL</sub> − θ<sub>SFT</sub> · θ(α) = θ<sub>target</sub> + α·v — name a donor pair and a target.
          </p>
        </div>
        <div className="ws-bar">
          <AlphaControl />
          <WorkStatus />
        </div>
        <div className="toolbar">
          <button onClick={() => ROLES.forEach((r) => void loadDemo(r))}>Load the demo trio</button>
          <SettingsPanel />
          <PresetsPanel />
        </div>
        <GpuStatus />
        <ResumeAfterLoss />
        {!trioReady && <DemoNote />}
      </header>
      <TrioBar />
      <div className="ws-main">
        <div className="ws-plot" role="region" aria-label="plot: α sweep and benchmarks" tabIndex={-1}>
          <SweepPanel />
          <BenchmarksPanel />
        </div>
        <div className="ws-explorer" role="region" aria-label="α explorer" tabIndex={-1}>
          {trioReady ? (
            <>
              <Playground />
              <MergePanel />
            </>
          ) : (
            <p className="muted ws-placeholder">The α explorer — answers of θ(α) for a prompt, the merge and its exports — opens once the three checkpoints are loaded.</p>
          )}
        </div>
      </div>
    </main>
  );
}
