import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';

/**
 * The 4-bit weights mode through the page's door: with a GPU budget the demo trio's float weights
 * do not fit (1.1 MiB: θ(α) alone is 1.2 MiB in f16, 1.9 MiB in f32) but their 4-bit form does
 * (1.06 MB), the memory plan picks 4-bit by itself and says why; the playground's answer at two α
 * is the greedy token of `studio forward --weights q4` (the CLI's CPU quantiser and
 * onnxruntime-node) at those α.
 */
const ROOT = process.cwd();
const DEMO = join(ROOT, 'public/demo');
const work = mkdtempSync(join(tmpdir(), 'studio-page-q4-ui-'));
test.afterAll(() => rmSync(work, { recursive: true, force: true }));
const demo = JSON.parse(readFileSync(join(DEMO, 'demo-arith-target', 'demo.json'), 'utf8')) as { prompts: { text: string; ids: number[] }[] };

async function cliNextToken(alpha: number, ids: number[]): Promise<number> {
  const out = join(work, `f-${alpha}.json`);
  const trio = ['sft', 'rl', 'target'].flatMap((n) => [`--${n}`, join(DEMO, `demo-arith-${n}`)]);
  await promisify(execFile)(process.execPath, [join(ROOT, 'bin/studio.js'), 'forward', ...trio, '--alpha', String(alpha), '--ids', ids.join(','), '--out', out, '--weights', 'q4', '--device', 'cpu'], {
    cwd: ROOT,
    env: { ...process.env, HF_ENDPOINT: '', HF_TOKEN: '', STUDIO_CACHE_DIR: join(work, 'cache') },
    timeout: 120_000,
  });
  const { shape, data } = JSON.parse(readFileSync(out, 'utf8')) as { shape: [number, number]; data: number[] };
  const last = data.slice((shape[0] - 1) * shape[1]);
  return last.indexOf(Math.max(...last));
}

test('a budget only the 4-bit weights fit: the plan picks 4-bit, the playground answers with the CLI --weights q4 token at α = 1 and 0', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await page.getByText('Settings').click();
  await page.getByLabel('GPU memory budget').fill('0.00104');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  const choice = page.getByTestId('memory-plan-weights');
  await expect(choice).toHaveAttribute('data-weights', 'q4', { timeout: 60_000 });
  await expect(choice).toContainText('the float weights do not fit the 1.1 MiB budget; their 4-bit form (1.0 MiB) does');
  await expect(page.getByTestId('memory-plan-q4')).toHaveAttribute('data-fits', 'true');
  await expect(page.getByTestId('memory-plan-q4-errors')).toContainText('|Δw| ≤ scale·(1/2 + 2⁻¹⁷) per weight');
  const prompt = demo.prompts.find((p) => p.text === '3+4=')!;
  const pg = page.getByTestId('playground');
  const out = pg.getByTestId('playground-output');
  for (const alpha of [1, 0]) {
    await page.getByLabel('alpha', { exact: true }).fill(String(alpha));
    if (alpha === 1) await pg.getByRole('button', { name: 'Generate' }).click();
    await expect(out).toHaveAttribute('data-alpha', String(alpha), { timeout: 60_000 });
    const ids = (await out.getAttribute('data-ids'))!.split(',').filter(Boolean).map(Number);
    expect(ids, `α = ${alpha}`).toEqual([await cliNextToken(alpha, prompt.ids)]);
  }
  await expect(pg).toContainText('4-bit:');
});
