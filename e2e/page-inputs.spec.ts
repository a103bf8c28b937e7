import { expect, test, type ConsoleMessage, type Locator, type Page } from '@playwright/test';
import { keepScreenshot } from './helpers.ts';

/**
 * The page's inputs as a keyboard user meets them: number boxes that can be emptied and retyped
 * (an invalid draft is shown and blocks the panel's button, saying why), an invalid α that blocks
 * every α-driven action, a link's unreadable `#a=` refused aloud, and focus given back to the
 * button that started the work.
 */

/** Console messages of type "error" and uncaught exceptions. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => m.type() === 'error' && errors.push(`${m.text()} @ ${m.location().url}`));
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

async function loadDemo(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await expect(page.getByTestId('sweep').getByTestId('sweep-run')).toBeEnabled({ timeout: 30_000 });
}

/** Select all and delete, as a user clears a box. */
async function clear(box: Locator): Promise<void> {
  await box.click();
  await box.press('Control+a');
  await box.press('Backspace');
}

/** The message beside a box (the field's aria-describedby target). */
async function fieldMessage(box: Locator): Promise<string> {
  const id = await box.getAttribute('aria-describedby');
  expect(id, 'the invalid box names its message').toBeTruthy();
  return (await box.page().locator(`[id="${id}"]`).innerText()).trim();
}

test('number boxes can be emptied and retyped; an invalid draft says why beside the box and disables Run / Generate', async ({ page }, info) => {
  const errors = consoleErrors(page);
  await loadDemo(page);
  const sweep = page.getByTestId('sweep');
  const run = sweep.getByTestId('sweep-run');
  const count = sweep.getByLabel('sweep items per task');
  await expect(count).toHaveValue('100');

  // End, Backspace ×3: the box is empty (not "100" again), and says so; Run sweep is disabled, saying why.
  await count.click();
  await count.press('End');
  for (let i = 0; i < 3; i++) await count.press('Backspace');
  await expect(count).toHaveValue('');
  await expect(count).toHaveAttribute('aria-invalid', 'true');
  expect(await fieldMessage(count)).toBe('Empty: enter a whole number ≥ 1.');
  await expect(run).toBeDisabled();
  await expect(sweep.getByTestId('sweep-problem')).toHaveText('Fix “sweep items per task” first — Empty: enter a whole number ≥ 1.');
  await keepScreenshot(page, info, 'sweep-items-emptied');
  await count.pressSequentially('10');
  await expect(count).toHaveValue('10');
  await expect(count).not.toHaveAttribute('aria-invalid');
  await expect(run).toBeEnabled();
  await expect(sweep.getByTestId('sweep-json')).toContainText(/"limit":\s*10\b/);

  // Ctrl+A, Backspace, 10: 10 (not 10010).
  await clear(count);
  await count.pressSequentially('10');
  await expect(count).toHaveValue('10');

  // 0, −5 and 1.5 stay on screen with their reason and are never taken: the sweep keeps the last
  // valid count it was typed through (10 before 0 and −5; the "1" of "1.5"), and Run stays disabled.
  for (const [typed, said, kept] of [
    ['0', '0 is below 1: enter a whole number ≥ 1.', 10],
    ['-5', '-5 is below 1: enter a whole number ≥ 1.', 10],
    ['1.5', '1.5 is not a whole number: enter a whole number ≥ 1.', 1],
  ] as const) {
    await clear(count);
    await count.pressSequentially(typed);
    await expect(count).toHaveValue(typed);
    expect(await fieldMessage(count)).toBe(said);
    await expect(run).toBeDisabled();
    await expect(sweep.getByTestId('sweep-problem')).toContainText(said);
    await expect(sweep.getByTestId('sweep-json')).toContainText(new RegExp(`"limit":\\s*${kept}\\b`));
  }
  await clear(count);
  await count.pressSequentially('7');
  await expect(run).toBeEnabled();
  await expect(sweep.getByTestId('sweep-json')).toContainText(/"limit":\s*7\b/);

  // An optional box (max new tokens) may be empty: the task's own limit, nothing blocked.
  const sweepMax = sweep.getByLabel('sweep max new tokens');
  await sweepMax.pressSequentially('0');
  expect(await fieldMessage(sweepMax)).toBe('0 is below 1: enter a whole number ≥ 1.');
  await expect(run).toBeDisabled();
  await sweepMax.press('Backspace');
  await expect(sweepMax).toHaveValue('');
  await expect(sweepMax).not.toHaveAttribute('aria-invalid');
  await expect(run).toBeEnabled();

  // Benchmarks: 20 → Ctrl+A, Backspace, 5 → 5 (not 205); emptied, Run is disabled saying why.
  const bench = page.getByTestId('benchmarks');
  const benchCount = bench.getByLabel('items per task', { exact: true });
  await expect(benchCount).toHaveValue('20');
  await clear(benchCount);
  await expect(bench.getByTestId('bench-run')).toBeDisabled();
  await expect(bench.getByTestId('bench-problem')).toHaveText('Fix “items per task” first — Empty: enter a whole number ≥ 1.');
  await benchCount.pressSequentially('5');
  await expect(benchCount).toHaveValue('5');
  await bench.getByLabel('demo_arith').check();
  await expect(bench.getByTestId('bench-run')).toBeEnabled();

  // Playground: max new tokens 1 → Ctrl+A, Backspace, 5 → 5 (not 15); 600 is above its 512.
  const pg = page.getByTestId('playground');
  const generate = pg.getByRole('button', { name: 'Generate' });
  const maxNew = pg.getByLabel('max new tokens', { exact: true });
  await expect(maxNew).toHaveValue('1');
  await clear(maxNew);
  await expect(generate).toBeDisabled();
  await expect(pg.getByTestId('playground-problem')).toHaveText('Generate is disabled: Fix “max new tokens” first — Empty: enter a whole number from 1 to 512.');
  await maxNew.pressSequentially('600');
  expect(await fieldMessage(maxNew)).toBe('600 is above 512: enter a whole number from 1 to 512.');
  await expect(generate).toBeDisabled();
  await clear(maxNew);
  await maxNew.pressSequentially('5');
  await expect(maxNew).toHaveValue('5');
  await expect(generate).toBeEnabled();
  await expect(pg.getByTestId('playground-problem')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('an invalid α blocks Benchmarks Run, Generate, Compare and Add an α column, saying why; no NaN anywhere, no console error', async ({ page }, info) => {
  const errors = consoleErrors(page);
  await loadDemo(page);
  const bench = page.getByTestId('benchmarks');
  await bench.getByLabel('demo_arith').check();
  const benchRun = bench.getByTestId('bench-run');
  await expect(benchRun).toBeEnabled();
  const pg = page.getByTestId('playground');
  const explorer = page.getByTestId('alpha-explorer');
  const compare = explorer.getByRole('button', { name: 'Compare' });
  const addColumn = explorer.getByRole('button', { name: 'Add an α column' });
  await expect(compare).toBeEnabled();
  const columnsBefore = await explorer.getByTestId('compare-column').count();

  // Ctrl+A, "-": the header's box holds no number.
  const alpha = page.getByLabel('α', { exact: true });
  await alpha.click();
  await alpha.press('Control+a');
  await alpha.press('-');
  await expect(page.getByTestId('alpha-problem')).toHaveText('α must be a finite number.');
  await expect(alpha).toHaveAttribute('aria-invalid', 'true');

  const why = 'Set α first: the α box at the top does not hold a finite number.';
  await expect(benchRun).toBeDisabled();
  await expect(benchRun).toHaveText('Run at α = —');
  await expect(bench.getByTestId('bench-problem')).toHaveText(why);
  await expect(pg.getByRole('button', { name: 'Generate' })).toBeDisabled();
  await expect(pg.getByTestId('playground-problem')).toHaveText(`Generate is disabled: ${why}`);
  await expect(compare).toBeDisabled();
  await expect(explorer.getByTestId('explorer-problem')).toContainText('Compare is disabled: Set α first: column 4 follows the slider');
  await expect(addColumn).toBeDisabled();
  await keepScreenshot(page, info, 'alpha-invalid');
  // The column that follows the slider says plainly it has no α now (and its box is empty, not "NaN").
  const follower = explorer.getByTestId('compare-column').nth(3);
  await expect(follower.getByTestId('column-no-alpha')).toContainText('follows the slider — which has no α now');
  await expect(follower).toHaveAttribute('data-alpha', '');
  await expect(follower.getByLabel('column 4 alpha')).toHaveValue('');
  // The merge panel's α-driven exports too.
  await expect(page.getByTestId('merge-panel').getByRole('button', { name: 'Save merged model…' })).toBeDisabled();
  // Pressing the disabled Run does nothing: no "Stopped at α = NaN".
  await benchRun.click({ force: true });
  await expect(bench.getByTestId('bench-status')).toHaveCount(0);
  expect(await page.locator('body').innerText()).not.toContain('NaN');
  expect(await explorer.getByTestId('compare-column').count()).toBe(columnsBefore);

  // A finite α again: everything comes back, the follower at that α.
  await alpha.press('Backspace');
  await alpha.pressSequentially('0.5');
  await expect(page.getByTestId('alpha-problem')).toHaveCount(0);
  await expect(benchRun).toBeEnabled();
  await expect(benchRun).toHaveText('Run at α = 0.5');
  await expect(compare).toBeEnabled();
  await expect(addColumn).toBeEnabled();
  await expect(follower).toHaveAttribute('data-alpha', '0.5');
  await expect(explorer.getByTestId('explorer-problem')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("a link's unreadable α is refused aloud and the address rewritten to the α used", async ({ page }) => {
  const errors = consoleErrors(page);
  await page.goto('/#a=abc');
  const notice = page.getByTestId('alpha-link-notice');
  await expect(notice).toHaveText("The link's α (abc) is not a number; using 1.");
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('1');
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#a=1');

  // A fresh load of an α that overflows to Infinity.
  await page.goto('about:blank');
  await page.goto('/#a=1e999');
  await expect(notice).toHaveText("The link's α (1e999) is not a finite number; using 1.");
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#a=1');

  // Edited by hand in the open page (hashchange): refused the same way; a good one is taken.
  await page.evaluate(() => (location.hash = '#a=oops'));
  await expect(notice).toHaveText("The link's α (oops) is not a number; using 1.");
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#a=1');
  await page.evaluate(() => (location.hash = '#a=0.25'));
  await expect(page.getByLabel('α', { exact: true })).toHaveValue('0.25');
  // The user's own α replaces the story: the notice goes.
  await expect(notice).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('focus returns to Run sweep, Generate and Compare when their work ends (keyboard only)', async ({ page }) => {
  test.setTimeout(180_000);
  await loadDemo(page);

  // Generate: Tab from the max-new-tokens box, Enter, and focus is back on Generate when it answers.
  const pg = page.getByTestId('playground');
  const generate = pg.getByRole('button', { name: 'Generate' });
  await pg.getByLabel('max new tokens', { exact: true }).focus();
  await page.keyboard.press('Tab');
  await expect(generate).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(pg.getByTestId('playground-output').locator('pre')).toHaveText('7', { timeout: 60_000 });
  await expect(pg.getByTestId('playground-status')).toHaveText('');
  await expect(generate).toBeFocused();

  // Compare: Tab from the "the input above" choice to Compare, Enter, all four columns answered.
  const explorer = page.getByTestId('alpha-explorer');
  const compare = explorer.getByRole('button', { name: 'Compare' });
  await explorer.getByRole('radio', { name: 'the input above' }).focus();
  await page.keyboard.press('Tab');
  await expect(compare).toBeFocused();
  await page.keyboard.press('Enter');
  const columns = explorer.getByTestId('compare-column');
  for (let i = 0; i < 4; i++) await expect(columns.nth(i)).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(explorer.getByTestId('explorer-status')).toHaveText('');
  await expect(compare).toBeFocused();
  // The next Tab goes on from there (to Cancel's neighbour), not back to the page's start.
  await page.keyboard.press('Tab');
  await expect(explorer.getByRole('button', { name: 'Add an α column' })).toBeFocused();

  // Run sweep: a small sweep (α 0 and 1, 5 items, no control or donors), started with the keyboard.
  const sweep = page.getByTestId('sweep');
  const run = sweep.getByTestId('sweep-run');
  await sweep.getByLabel('α values').fill('0, 1');
  const count = sweep.getByLabel('sweep items per task');
  await clear(count);
  await count.pressSequentially('5');
  await sweep.getByLabel('donors alone').setChecked(false);
  const control = sweep.getByLabel('control vector');
  await control.setChecked(false);
  await control.focus();
  // The control seed is disabled without the control vector: the next stop is Run sweep.
  await page.keyboard.press('Tab');
  await expect(run).toBeFocused();
  await page.keyboard.press('Enter');
  const status = sweep.getByTestId('sweep-status');
  await expect(status).toHaveAttribute('data-status', /done|error|cancelled/, { timeout: 120_000 });
  expect(await status.getAttribute('data-status'), await status.innerText()).toBe('done');
  await expect(sweep.getByTestId('sweep-progress')).toHaveAttribute('data-total', '10');
  await expect(run).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(sweep.getByTestId('sweep-forget')).toBeFocused();
});
