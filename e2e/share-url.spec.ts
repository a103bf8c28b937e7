import { STUDIO_PORT } from '../playwright.config.ts';
import { deflateRawSync } from 'node:zlib';
import { offline } from './helpers.ts';
import { expect, test, type Page } from '@playwright/test';
// The engine's modules themselves (its index also loads the eval tasks' JSON, which Playwright's loader cannot import).
import { bytesToBase64url, type SweepResultsDocument } from '../src/engine/sweep/results-document.ts';
import { encodeShareHash, MAX_SHARE_PAYLOAD_CHARS } from '../src/engine/sweep/share-url.ts';
import { typicalSweepDocument } from '../test-support/sweep-document.ts';

/**
 * Share links opened in a fresh browser: a valid one draws its plot with nothing fetched beyond
 * the studio's own files; hostile ones — oversize, another version, markup in a string, corrupted
 * bytes — are refused with a visible message, nothing from them becomes markup or runs, and no
 * plot is drawn. Payloads are made here with the engine's encoder (valid) or by hand (hostile).
 */

const APP = `http://127.0.0.1:${STUDIO_PORT}`;
const hashOf = (json: unknown) => `r=1.${bytesToBase64url(deflateRawSync(Buffer.from(JSON.stringify(json))))}`;
const clone = (d: SweepResultsDocument) => JSON.parse(JSON.stringify(d)) as SweepResultsDocument & Record<string, unknown>;
const INJECTED = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

async function openLink(page: Page, hash: string) {
  await page.goto(`/#${hash}`);
  await expect(page.getByTestId('sweep')).toBeVisible();
}

/** Nothing from the URL became an element or ran. */
async function expectNothingInjected(page: Page) {
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(await page.getByTestId('sweep-results').count()).toBe(0);
}

test('a valid link draws the plot and its table at once, fetching nothing but the studio itself, and offers Re-run', async ({ browser }) => {
  const context = await browser.newContext();
  const outside = await offline(context);
  const page = await context.newPage();
  const modelFiles: string[] = [];
  // The page's own demo note reads demo.json; weights, manifests, configs and datasets are what a plot must not need.
  // (The dev server's own modules under /src, /node_modules and /@vite are the app, not data.)
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (!/^\/(src|node_modules|@)/.test(path) && /\.safetensors|manifest\.json|config\.json|tokenizer|\.parquet|\/api\//.test(path)) modelFiles.push(r.url());
  });
  const doc = typicalSweepDocument({ verdicts: true });
  const { hash } = await encodeShareHash(doc);
  expect(hash.length).toBeLessThan(8 * 1024);
  await openLink(page, hash);
  await expect(page.getByTestId('shared-notice')).toContainText('Opened from a share link');
  await expect(page.getByTestId('sweep-rerun')).toBeVisible();
  const rows = page.getByTestId('plot-row');
  await expect(rows).toHaveCount(doc.points.length);
  // Row by row, the counts the link carries.
  const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-series'), tr.getAttribute('data-alpha'), tr.getAttribute('data-task'), Number(tr.getAttribute('data-correct')), Number(tr.getAttribute('data-total'))]));
  expect(shown).toEqual(doc.points.map((p) => [p.series, p.alpha === null ? '' : String(p.alpha), p.task, p.correct, p.total]));
  // One focusable point per (v | control) × α × task × metric.
  const curvePoints = doc.points.filter((p) => p.series === 'v' || p.series === 'control').length;
  await expect(page.getByTestId('plot-point')).toHaveCount(curvePoints);
  expect(outside).toEqual([]);
  expect(modelFiles).toEqual([]);
  await context.close();
});

test('a point of a shared plot opens from the keyboard; its verdict bits say what v fixed and broke between two α', async ({ page }) => {
  const doc = typicalSweepDocument({ verdicts: true });
  await openLink(page, (await encodeShareHash(doc)).hash);
  const at1 = (p: { series: string; alpha: number | null; task: string; metric: string }) => p.series === 'v' && p.task === 'sciq' && p.metric === 'acc';
  const point = page.locator('[data-testid="plot-point"][data-series="v|sciq|plain|acc"][data-alpha="1"]');
  await point.focus();
  await page.keyboard.press('Enter');
  const items = page.getByTestId('sweep-items');
  await expect(items).toHaveAttribute('data-alpha', '1');
  const p1 = doc.points.find((p) => at1(p) && p.alpha === 1)!;
  await expect(items.getByTestId('sweep-item')).toHaveCount(Math.min(50, p1.total));
  await items.getByLabel('verdict changed').check();
  await items.getByLabel('α₁').selectOption('0');
  const p0 = doc.points.find((p) => at1(p) && p.alpha === 0)!;
  const changed = items.getByTestId('sweep-changed');
  const fixed = Number(await changed.getAttribute('data-fixed'));
  const broken = Number(await changed.getAttribute('data-broken'));
  // fixed − broken is the change in correct items; each changed row shows its two verdicts.
  expect(fixed - broken).toBe(p1.correct - p0.correct);
  await expect(items.getByTestId('sweep-item')).toHaveCount(Math.min(50, fixed + broken));
  expect(fixed + broken).toBeGreaterThan(0);
});

test('copying a share link with a token in the settings: the token is nowhere in the URL', async ({ page }) => {
  const token = 'hf_' + 'Tok3nThatMustNeverLeaveTheTab0123'.padEnd(34, 'x');
  await openLink(page, (await encodeShareHash(typicalSweepDocument())).hash);
  await page.getByText('Settings').click();
  await page.getByLabel('Access token').fill(token);
  await page.getByTestId('share-copy').click();
  const url = await page.getByTestId('share-url').inputValue();
  expect(url.startsWith(`${APP}/#r=1.`)).toBe(true);
  expect(url).not.toContain(token);
  expect(page.url()).not.toContain(token);
  expect(decodeURIComponent(url)).not.toContain(token);
});

test('hostile links are refused with a message and nothing from them is rendered or run', async ({ page }) => {
  const valid = (await encodeShareHash(typicalSweepDocument())).hash;
  const payload = valid.slice('r=1.'.length);
  const markup = clone(typicalSweepDocument());
  markup.sources.sft.spec = `hf:owner/name${INJECTED}`;
  const newer = clone(typicalSweepDocument());
  newer.version = 2 as 1;
  const withToken = clone(typicalSweepDocument());
  withToken.sources.rl.spec = `hf:owner/name?token=hf_${'a'.repeat(34)}`;
  const badSchema = clone(typicalSweepDocument());
  (badSchema.points[0] as unknown as Record<string, unknown>).correct = 1e9;
  // Corrupted bytes: the middle of a valid payload replaced (a link changed in transit).
  const mid = Math.floor(payload.length / 2);
  const corrupted = `r=1.${payload.slice(0, mid)}${'_'.repeat(40)}${payload.slice(mid + 40)}`;

  const cases: { name: string; hash: string; says: RegExp }[] = [
    { name: 'oversize', hash: `r=1.${'A'.repeat(MAX_SHARE_PAYLOAD_CHARS + 100)}`, says: new RegExp(`the limit is ${MAX_SHARE_PAYLOAD_CHARS}`) },
    { name: 'another encoding version', hash: `r=2.${payload}`, says: /encoding version 2; this studio reads version 1/ },
    { name: 'another document version', hash: hashOf(newer), says: /version: is 2; this studio reads version 1/ },
    { name: 'markup in a string', hash: hashOf(markup), says: /sources\.sft\.spec: holds markup/ },
    { name: 'a token in a string', hash: hashOf(withToken), says: /looks like a Hugging Face access token/ },
    { name: 'a schema violation', hash: hashOf(badSchema), says: /points\.0\.correct/ },
    { name: 'corrupted bytes', hash: corrupted, says: /not valid deflate data|does not hold JSON|does not inflate to UTF-8|not valid base64url/ },
    { name: 'not base64url', hash: 'r=1.<svg/onload=window.__pwned=3>', says: /not valid base64url/ },
  ];
  for (const c of cases) {
    await openLink(page, c.hash);
    const refusal = page.getByTestId('share-refused');
    await expect(refusal, c.name).toBeVisible();
    await expect(refusal, c.name).toContainText('This share link was refused');
    await expect(refusal, c.name).toContainText(c.says);
    await expectNothingInjected(page);
    // The refusal is text: the markup is shown as characters, never parsed.
    expect(await refusal.locator('img, script, svg').count(), c.name).toBe(0);
  }
});
