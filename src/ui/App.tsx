import { useEffect } from 'react';
import { ROLES } from '../engine/checkpoint/compatibility.ts';
import { BenchmarksPanel } from './components/BenchmarksPanel.tsx';
import { DemoNote } from './components/DemoNote.tsx';
import { GpuStatus } from './components/GpuStatus.tsx';
import { MergePanel } from './components/MergePanel.tsx';
import { Playground } from './components/Playground.tsx';
import { PresetsPanel } from './components/PresetsPanel.tsx';
import { SettingsPanel } from './components/SettingsPanel.tsx';
import { SlotCard } from './components/SlotCard.tsx';
import { SweepPanel } from './components/SweepPanel.tsx';
import { VerdictPanel } from './components/VerdictPanel.tsx';
import { startGpu } from './session/gpu.ts';
import { loadDemo } from './session/slot-loader.ts';

export function App() {
  useEffect(() => {
    void startGpu();
  }, []);
  return (
    <main>
      <header>
        <h1>Reasoning-vector studio</h1>
        <p className="muted">
          v = θ<sub>RL</sub> − θ<sub>SFT</sub> · θ(α) = θ<sub>target</sub> + α·v — name a donor pair and a target.
        </p>
        <GpuStatus />
        <div className="toolbar">
          <button onClick={() => ROLES.forEach((r) => void loadDemo(r))}>Load the demo trio</button>
          <SettingsPanel />
          <PresetsPanel />
        </div>
        <DemoNote />
      </header>
      <div className="slots">
        {ROLES.map((r) => (
          <SlotCard key={r} role={r} />
        ))}
      </div>
      <VerdictPanel />
      <MergePanel />
      <Playground />
      <BenchmarksPanel />
      <SweepPanel />
    </main>
  );
}
