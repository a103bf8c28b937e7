import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { dropFolder, FIXTURES } from './helpers.ts';

/**
 * One rule set in the page: the verdict, the merge panel's buttons and the playground's Generate
 * all follow the rules planMerge runs (engine/merge/decide-merge.ts), under the vocab policy
 * chosen in the merge panel.
 */

const models = (name: string) => join(FIXTURES, 'models', name);
const SHAPES = 'tensor "model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [288, 16], target [320, 16] (vocabulary sizes differ).';
const CHOOSE = 'Choose "overlap" under "vocab sizes differ" in the merge panel to merge the rows all three share and keep the target\'s other rows.';

async function dropTrio(page: Page, sft: string, rl: string, target: string) {
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), models(sft));
  await dropFolder(page, page.getByTestId('slot-rl'), models(rl));
  await dropFolder(page, page.getByTestId('slot-target'), models(target));
  await expect(page.getByTestId('merge-panel')).toBeVisible();
}

const buttons = (page: Page) => ({
  stats: page.getByRole('button', { name: 'Vector statistics' }),
  model: page.getByRole('button', { name: 'Save merged model…' }),
  vector: page.getByRole('button', { name: 'Save vector…' }),
  generate: page.getByTestId('playground').getByRole('button', { name: 'Generate' }),
});

test('a resized target vocabulary: merging and generating are disabled saying why; choosing "overlap" enables them', async ({ page }) => {
  await dropTrio(page, 'tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-vocab320-target');
  const b = buttons(page);
  const verdict = page.getByTestId('verdict');

  await expect(verdict.getByTestId('verdict-headline')).toHaveText('Incompatible under the vocab policy "refuse" (1 problem); "overlap" would allow merging.');
  await expect(verdict.getByTestId('verdict-reason')).toHaveText(`${SHAPES} ${CHOOSE}`);
  await expect(b.stats).toBeDisabled();
  await expect(b.model).toBeDisabled();
  await expect(b.generate).toBeDisabled();
  await expect(page.getByTestId('merge-blocked')).toHaveText(`Merging is disabled: ${SHAPES} ${CHOOSE}`);
  await expect(page.getByTestId('playground-blocked')).toHaveText(`Generating is disabled: ${SHAPES} ${CHOOSE}`);
  // The vector is the donors' alone, and they agree: saving it stays possible.
  await expect(b.vector).toBeEnabled();
  await expect(page.getByTestId('vector-blocked')).toHaveCount(0);

  await page.getByLabel('vocab policy').selectOption('overlap');
  await expect(verdict.getByTestId('verdict-headline')).toHaveText('Compatible: 26 tensors receive α·v (1 warning).');
  await expect(verdict.getByTestId('verdict-reason')).toHaveCount(0);
  await expect(verdict.locator('tr', { hasText: 'model.embed_tokens.weight' })).toContainText('rows 0…287 merged, 32 row(s) of the target kept');
  for (const button of [b.stats, b.model, b.vector, b.generate]) await expect(button).toBeEnabled();
  await expect(page.getByTestId('merge-blocked')).toHaveCount(0);
  await expect(page.getByTestId('playground-blocked')).toHaveCount(0);

  // What the verdict allows is what the merge does: the statistics pass runs under the same policy.
  await b.stats.click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('merge-job')).toContainText('model.embed_tokens.weight: vocab policy "overlap": rows 0…287 merged, 32 row(s) of the target kept');

  // And back: "refuse" disables them again.
  await page.getByLabel('vocab policy').selectOption('refuse');
  await expect(b.model).toBeDisabled();
  await expect(b.generate).toBeDisabled();
  await expect(page.getByTestId('merge-blocked')).toContainText(SHAPES);
});

test('a resized donor vocabulary: saving the vector is disabled too, until "overlap" is chosen', async ({ page }) => {
  await dropTrio(page, 'tiny-qwen2-sft', 'tiny-qwen2-vocab320-target', 'tiny-qwen2-target');
  const b = buttons(page);
  for (const button of [b.stats, b.model, b.vector, b.generate]) await expect(button).toBeDisabled();
  await expect(page.getByTestId('vector-blocked')).toHaveText(
    'Saving the vector is disabled: tensor "model.embed_tokens.weight" shapes differ: SFT [288, 16], RL [320, 16] (vocabulary sizes differ). ' +
      'Choose "overlap" under "vocab sizes differ" in the merge panel to keep the rows both donors share in the vector.',
  );
  await expect(page.getByTestId('merge-blocked')).toContainText('SFT [288, 16], RL [320, 16], target [288, 16] (vocabulary sizes differ)');

  await page.getByLabel('vocab policy').selectOption('overlap');
  for (const button of [b.stats, b.model, b.vector, b.generate]) await expect(button).toBeEnabled();
  await expect(page.getByTestId('vector-blocked')).toHaveCount(0);
});

test('a trio no policy can merge: disabled, and no policy is offered', async ({ page }) => {
  await dropTrio(page, 'demo-arith-sft', 'demo-arith-rl', 'tiny-qwen2-untied-target');
  const b = buttons(page);
  await expect(page.getByTestId('verdict-headline')).toHaveText(/^Incompatible: \d+ problems must be fixed before merging\.$/);
  await page.getByLabel('vocab policy').selectOption('overlap');
  for (const button of [b.stats, b.model, b.generate]) await expect(button).toBeDisabled();
  await expect(page.getByTestId('merge-blocked')).toContainText('config hiddenSize differs: SFT donor 128, RL donor 128, target 16');
  await expect(page.getByTestId('merge-blocked')).not.toContainText('Choose');
  // The demo donors agree with each other: their vector can still be saved.
  await expect(b.vector).toBeEnabled();
});
