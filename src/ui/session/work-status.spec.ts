import { describe, expect, it } from 'vitest';
import { useStudio } from '../store.ts';
import { runningWork } from './work-status.ts';

const idle = useStudio.getInitialState();

describe('runningWork: what the workspace bar shows', () => {
  it('is empty when nothing runs', () => {
    expect(runningWork(idle)).toEqual([]);
  });

  it('names each running job with its progress, in a fixed order', () => {
    const s = {
      ...idle,
      merge: { ...idle.merge, alpha: 0.5, job: { kind: 'stats' as const, status: 'running' as const, bytesDone: 10, bytesTotal: 40, tensorsDone: 1, tensorsTotal: 4 } },
      playground: { ...idle.playground, status: 'generating' as const },
      sweep: { ...idle.sweep, run: { status: 'running' as const, phase: 'α = 0.25', itemsDone: 7, itemsTotal: 22, itemsResumed: 0 } },
    };
    expect(runningWork(s)).toEqual([
      { kind: 'merge', label: 'merging: vector statistics', done: 10, total: 40, unit: 'bytes' },
      { kind: 'generate', label: 'generating at α = 0.5' },
      { kind: 'sweep', label: 'sweeping α', phase: 'α = 0.25', done: 7, total: 22, unit: 'items' },
    ]);
  });

  it('a generation is labelled with the α it runs at, not the α box edited meanwhile (even to something invalid)', () => {
    const s = { ...idle, merge: { ...idle.merge, alpha: Number.NaN }, playground: { ...idle.playground, status: 'generating' as const, runningAlpha: 0.25 } };
    expect(runningWork(s)).toEqual([{ kind: 'generate', label: 'generating at α = 0.25' }]);
  });

  it('finished, cancelled and failed jobs are not work', () => {
    const s = {
      ...idle,
      merge: { ...idle.merge, job: { kind: 'model' as const, status: 'cancelled' as const, bytesDone: 0, bytesTotal: 1, tensorsDone: 0, tensorsTotal: 1 } },
      sweep: { ...idle.sweep, run: { status: 'error' as const, phase: 'stopped', itemsDone: 3, itemsTotal: 22, itemsResumed: 0 } },
    };
    expect(runningWork(s)).toEqual([]);
  });

  it('the explorer: its model build with the phase it is in, and its comparison with columns done', () => {
    const explorer = {
      status: 'running' as const,
      build: { status: 'running' as const, progress: { phase: 'weights' as const, done: 3, total: 27 }, ms: 10 },
      columns: [{ id: 1, alpha: -1 }, { id: 2, alpha: 0 }, { id: 3, alpha: null }],
      results: { 1: { alpha: -1, status: 'done' as const, ids: [], text: '', kept: false } },
    };
    expect(runningWork(idle, explorer)).toEqual([
      { kind: 'build', label: 'building the model', phase: 'uploading the target and v to the GPU (3 of 27 tensors)', done: 3, total: 27, unit: 'items' },
      { kind: 'compare', label: 'comparing α side by side', done: 1, total: 3, unit: 'items' },
    ]);
  });
});
