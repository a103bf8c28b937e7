import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { dropFolder, FIXTURES } from './helpers.ts';

const models = (name: string) => join(FIXTURES, 'models', name);

test('dropping a fixture folder into each slot shows what was found and a compatible verdict', async ({ page }) => {
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), models('tiny-qwen2-sft'));
  await dropFolder(page, page.getByTestId('slot-rl'), models('tiny-qwen2-rl'));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-untied-target'));

  const sft = page.getByTestId('slot-sft').getByTestId('slot-summary');
  await expect(sft).toContainText('Qwen2ForCausalLM');
  await expect(sft).toContainText('BF16 ×26');
  await expect(sft).toContainText('tied to embeddings');
  await expect(sft).toContainText('transformers v4 · 2 layers · hidden 16 · vocab 288');
  await expect(page.getByTestId('slot-target').getByTestId('slot-summary')).toContainText('untied (lm_head stored)');

  const verdict = page.getByTestId('verdict');
  await expect(verdict.getByTestId('verdict-headline')).toContainText('Compatible: 27 tensors receive α·v');
  await expect(verdict).toContainText('Heads differ');
});

test('a folder picked with the folder input works like a drop, sharded and v5 included', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('SFT donor folder').setInputFiles(models('tiny-qwen2-sft'));
  await page.getByLabel('RL donor folder').setInputFiles(models('tiny-qwen2-rl'));
  await page.getByLabel('target folder').setInputFiles(models('tiny-qwen2-sharded'));
  await expect(page.getByTestId('slot-target').getByTestId('slot-summary')).toContainText('3 (');
  await expect(page.getByTestId('verdict-headline')).toHaveText('Compatible: 26 tensors receive α·v.');

  await page.getByLabel('target folder').setInputFiles(models('tiny-qwen2-v5'));
  await expect(page.getByTestId('slot-target').getByTestId('slot-summary')).toContainText('transformers v5');
  await expect(page.getByTestId('verdict-headline')).toHaveText('Compatible: 26 tensors receive α·v.');
});

test('a resized vocabulary is an incompatible verdict naming the tensor and the three shapes', async ({ page }) => {
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), models('tiny-qwen2-sft'));
  await dropFolder(page, page.getByTestId('slot-rl'), models('tiny-qwen2-rl'));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-vocab320-target'));
  const verdict = page.getByTestId('verdict');
  await expect(verdict.getByTestId('verdict-headline')).toContainText('Incompatible');
  const row = verdict.locator('tr', { hasText: 'model.embed_tokens.weight' });
  await expect(row).toContainText('[288, 16]');
  await expect(row).toContainText('[320, 16]');
});

test('a corrupted safetensors file gets one clear message naming the file', async ({ page }) => {
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), join(FIXTURES, 'bad', 'header-too-long'));
  await expect(page.getByTestId('slot-sft').getByTestId('slot-error')).toContainText(
    'model.safetensors: header length field says',
  );
  await dropFolder(page, page.getByTestId('slot-rl'), join(FIXTURES, 'bad', 'f8-dtype'));
  await expect(page.getByTestId('slot-rl').getByTestId('slot-error')).toContainText(
    'tensor "model.layers.0.mlp.up_proj.weight" has dtype F8_E4M3',
  );
});

test('the demo trio loads from the studio itself', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  // The embedded demo: untied heads, 27 tensors (scripts/fixtures/demo-arithmetic.ts).
  await expect(page.getByTestId('verdict-headline')).toHaveText('Compatible: 27 tensors receive α·v.');
});
