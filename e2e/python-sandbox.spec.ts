import { expect, test } from '@playwright/test';
import { STUDIO_PORT } from '../playwright.config.ts';

/**
 * The HumanEval sandbox in the page: Pyodide in a dedicated Web Worker, its files served by
 * Vite from the npm package (no CDN), a busy loop cut at the limit by terminating the worker
 * while the page keeps painting and handling clicks, and the next program run by a fresh worker.
 */
const LIMIT_MS = 3000;
/** Terminating a worker and answering is immediate; the margin covers a loaded 2-core VM's timer lateness. */
const CUT_MARGIN_MS = 1500;

type Counters = { clicks: number; frames: number };
type Result = { passed: boolean; reason: string; detail?: string; ms: number };
type Sandbox = {
  start(timeoutMs: number): Promise<{ startupMs: number }>;
  begin(program: string): number;
  finish(id: number): Promise<Result>;
  counters(): Counters;
  restarts(): number;
};

test('an infinite loop times out at the limit while the page stays responsive; programs before and after it run', async ({ page }) => {
  // Pyodide start-up (twice: once more after the timeout) on a shared 2-core VM takes tens of seconds.
  test.setTimeout(240_000);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
  await page.goto('/e2e/harness/python-sandbox.html');
  await expect(page.locator('#status')).toHaveText('ready');

  const call = <K extends keyof Sandbox>(method: K, ...args: Parameters<Sandbox[K]>) =>
    page.evaluate(
      ([m, a]) => ((window as unknown as { pySandbox: Record<string, (...x: unknown[]) => unknown> }).pySandbox[m] as (...x: unknown[]) => unknown)(...a),
      [method, args] as const,
    ) as Promise<Awaited<ReturnType<Sandbox[K]>>>;
  const run = async (program: string) => call('finish', await call('begin', program));

  const { startupMs } = await call('start', LIMIT_MS);
  console.log(`[e2e] Pyodide start-up in the page's worker: ${startupMs.toFixed(0)} ms`);
  expect(startupMs).toBeGreaterThan(0);

  const ok = await run('def add(a, b):\n    return a + b\n\ndef check(f):\n    assert f(2, 3) == 5\n\ncheck(add)');
  expect(ok).toMatchObject({ passed: true, reason: 'passed' });

  // No way from Python to the page: `js` is refused (and would be an empty namespace).
  const js = await run('import js\njs.document');
  expect(js.reason).toBe('failed');
  expect(js.detail).toContain("No module named 'js'");

  const id = await call('begin', 'while True:\n    pass');
  const before = await call('counters');
  await page.waitForTimeout(1000);
  for (let i = 0; i < 3; i++) await page.click('#poke');
  const during = await call('counters');
  const loop = await call('finish', id);
  // The clicks were handled and frames painted while Python spun in the worker.
  expect(during.clicks - before.clicks).toBe(3);
  expect(during.frames - before.frames).toBeGreaterThan(10);
  expect(loop.reason).toBe('timeout');
  expect(loop.passed).toBe(false);
  expect(loop.ms).toBeGreaterThanOrEqual(LIMIT_MS - 5);
  expect(loop.ms).toBeLessThan(LIMIT_MS + CUT_MARGIN_MS);
  console.log(`[e2e] busy loop cut after ${loop.ms.toFixed(0)} ms; ${during.frames - before.frames} frames painted meanwhile`);

  const after = await run('assert sorted([3, 1, 2]) == [1, 2, 3]');
  expect(after).toMatchObject({ passed: true, reason: 'passed' });
  expect(await call('restarts')).toBe(1);

  // Everything the page fetched came from the studio's own server: Pyodide's wasm and stdlib included, no CDN.
  const origin = `http://127.0.0.1:${STUDIO_PORT}`;
  expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
  expect(requests.some((u) => u.includes('pyodide.asm') && u.includes('.wasm'))).toBe(true);
  expect(requests.some((u) => u.includes('python_stdlib') && u.includes('.zip'))).toBe(true);
});
