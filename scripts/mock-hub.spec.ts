import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetInfo, HubApiError } from '@huggingface/hub';
import { benchmarkDatasets, benchmarksDir } from '../test-support/benchmark-datasets.ts';
import { rejection } from '../test-support/rejection.ts';
import { openHubDataset } from '../src/engine/datasets/open-hub-dataset.ts';

/** The standalone mock Hub the e2e tests start, run as they run it (a separate process on a free port). */
const children: ChildProcess[] = [];

function startScript(...args: string[]): Promise<{ url: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/mock-hub.ts', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      stdout += c;
      const m = /mock hub listening on (\S+)/.exec(stdout);
      if (m) resolve({ url: m[1], stderr });
    });
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('exit', (code) => reject(Object.assign(new Error(`mock-hub exited ${code}: ${stderr}`), { code, stderr })));
  });
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGTERM');
});

describe('scripts/mock-hub.ts', () => {
  const BENCHMARKS = benchmarksDir();

  it.skipIf(!existsSync(BENCHMARKS))('serves the benchmark samples as the four dataset repos', async () => {
    const fixtures = mkdtempSync(join(tmpdir(), 'mock-hub-script-'));
    try {
      const { url } = await startScript('--fixtures', join(fixtures, 'models'), '--benchmarks', BENCHMARKS);
      const want = benchmarkDatasets(BENCHMARKS);
      for (const d of want.filter((x) => x.config === 'main' || x.config === 'default' || x.config === 'openai_humaneval' || x.config === 'navigate')) {
        const ds = await openHubDataset({ hubUrl: url, repo: d.repo, config: d.config, split: d.split });
        expect(ds.rows).toEqual(d.rows);
      }
      const gated = await rejection(openHubDataset({ hubUrl: url, repo: 'studio-fixtures/gated-dataset', config: 'main', split: 'test' }));
      expect(gated.message).toContain('HF_TOKEN');
      const ok = await openHubDataset({ hubUrl: url, repo: 'studio-fixtures/gated-dataset', config: 'main', split: 'test', accessToken: 'hf_mock_gated_token' });
      expect(ok.rows).toHaveLength(200);
    } finally {
      rmSync(fixtures, { recursive: true, force: true });
    }
  });

  it('starts without the samples, serving no dataset repos', async () => {
    const missing = join(tmpdir(), 'no-such-benchmarks-dir');
    const { url, stderr } = await startScript('--benchmarks', missing);
    expect(stderr).toContain(`warning: no benchmark samples at ${missing}: serving no dataset repos`);
    const err = await rejection(datasetInfo({ name: 'openai/gsm8k', hubUrl: url }));
    expect(err).toBeInstanceOf(HubApiError);
    expect((err as HubApiError).statusCode).toBe(404);
  });

  it('refuses a misspelt flag with exit status 2, naming the flag it resembles', async () => {
    const err = (await rejection(startScript('--benchmark', BENCHMARKS))) as Error & { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--benchmarks');
  });
});
