import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';
import { decode, referenceStats } from '../test-support/merge-reference.ts';
import { readModelFolder, readSafetensorsFile } from '../test-support/read-safetensors.ts';
import { dropFolder, FIXTURES } from './helpers.ts';

/**
 * The vector heatmap read like a researcher reads it: the legend's numbers are the grid's ends,
 * a focused cell names its tensor and shows the statistics the float64 reference gives, and the
 * ‖α·v‖/‖θ_target‖ view follows the α of the merge panel.
 */

const models = (name: string) => join(FIXTURES, 'models', name);
/** The tensor the donors lose (so the target's is kept, and its place in the grid is "—"). */
const DROPPED = 'model.layers.1.self_attn.q_proj.bias';

/** A copy of a fixture folder whose model.safetensors lacks `drop` (rewritten with contiguous offsets). */
function withoutTensor(from: string, to: string, drop?: string): string {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (f !== 'model.safetensors') copyFileSync(join(from, f), join(to, f));
  const { tensors, metadata } = readSafetensorsFile(join(from, 'model.safetensors'));
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === drop) continue;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    parts.push(t.bytes);
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(to, 'model.safetensors'), Buffer.concat([len, json, ...parts]));
  return to;
}

/** Reference statistics of one tensor from the fixture files (float64, no engine code). */
function reference(name: string) {
  const [S, R, T] = ['sft', 'rl', 'target'].map((r) => readModelFolder(models(`tiny-qwen2-${r}`)));
  const d = (t: { bytes: Uint8Array; dtype: string }) => decode(t.bytes, t.dtype as SupportedDtype);
  const s = referenceStats(d(T.get(name)!), d(S.get(name)!), d(R.get(name)!));
  return { normV: Math.sqrt(s.sumV2), normTarget: Math.sqrt(s.sumT2), ratio: Math.sqrt(s.sumV2 / s.sumT2), cosine: s.sumVD / Math.sqrt(s.sumV2 * s.sumD2), elements: s.count };
}

async function openHeatmap(page: Page, dir: string): Promise<Locator> {
  await page.goto('/');
  await dropFolder(page, page.getByTestId('slot-sft'), withoutTensor(models('tiny-qwen2-sft'), join(dir, 'sft'), DROPPED));
  await dropFolder(page, page.getByTestId('slot-rl'), withoutTensor(models('tiny-qwen2-rl'), join(dir, 'rl'), DROPPED));
  await dropFolder(page, page.getByTestId('slot-target'), models('tiny-qwen2-target'));
  await page.getByRole('button', { name: 'Vector statistics' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const heat = page.getByTestId('vector-heatmap');
  await expect(heat).toBeVisible();
  await page.mouse.move(0, 0); // off the grid (the pointer stayed where the button was)
  return heat;
}

/** The numbers of every cell with a value, as the grid carries them (data-value, full precision). */
async function gridValues(heat: Locator): Promise<number[]> {
  const raw = await heat.locator('table.heatmap-grid td').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-value') ?? ''));
  return raw.filter((v) => v !== '').map(Number);
}

const detailValue = async (heat: Locator, key: string) => Number((await heat.getByTestId('heatmap-detail').locator(`dd[data-key="${key}"]`).textContent())!.replace('%', ''));
/** Equal to the 4 significant digits the page shows (exactly, for 0). */
const close = (got: number, want: number, what: string) => expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(1e-3 * Math.abs(want));

test('the legend gives the grid’s min and max for each metric, with its scale, units and what “—” means', async ({ page }, testInfo) => {
  const heat = await openHeatmap(page, testInfo.outputPath('trio'));
  const legend = heat.getByTestId('heatmap-legend');
  for (const metric of ['ratio', 'normV', 'cosine', 'nearZeroFraction'] as const) {
    await heat.getByLabel('heatmap metric').selectOption(metric);
    const values = await gridValues(heat);
    expect(values.length, metric).toBe(2 * 12 - 1); // 2 layers × 12 modules, one hole
    expect(Number(await legend.getAttribute('data-min')), metric).toBe(Math.min(...values));
    expect(Number(await legend.getAttribute('data-max')), metric).toBe(Math.max(...values));
    const ends = (await legend.locator('.ends span').allTextContents()).map(Number);
    if (metric === 'cosine') expect(ends).toEqual([-1, 0, 1]);
    else close(ends[0], Math.min(...values), `${metric} legend start`), close(ends[1], Math.max(...values), `${metric} legend end`);
    await expect(legend).toContainText('Colour: linear');
  }
  await heat.getByLabel('heatmap metric').selectOption('ratio');
  await expect(legend).toContainText('a ratio of L2 norms');
  await expect(heat.getByTestId('heatmap-dash-note')).toContainText('1 place(s) with no tensor statistics');
  // The hole: the donors lack the tensor, the target's is kept; the cell says why when focused.
  const hole = heat.getByTestId('cell-1-q_proj.bias');
  await expect(hole).toHaveText('—');
  await hole.focus();
  await expect(heat.getByTestId('heatmap-detail')).toContainText(DROPPED);
  await expect(heat.getByTestId('heatmap-detail-reason')).toContainText('kept from the target unchanged');
  await testInfo.attach('heatmap-legend', { body: await heat.screenshot(), contentType: 'image/png' });
});

test('keyboard: Tab into the grid, arrows move; the focused cell shows its tensor’s name and reference statistics', async ({ page }, testInfo) => {
  const heat = await openHeatmap(page, testInfo.outputPath('trio'));
  const detail = heat.getByTestId('heatmap-detail');
  await heat.getByLabel('heatmap metric').focus();
  await page.keyboard.press('Tab'); // into the grid: its first cell
  await expect(heat.getByTestId('cell-0-input_layernorm')).toBeFocused();
  await page.keyboard.press('ArrowRight');
  await expect(heat.getByTestId('cell-0-q_proj')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  await expect(heat.getByTestId('cell-1-down_proj')).toBeFocused();
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await expect(heat.getByTestId('cell-1-gate_proj')).toBeFocused();
  for (const name of ['model.layers.1.mlp.gate_proj.weight', 'model.layers.1.self_attn.k_proj.bias']) {
    if (name.includes('k_proj')) await heat.getByTestId('cell-1-k_proj.bias').hover();
    await expect(heat.getByTestId('heatmap-detail-name')).toHaveText(name);
    const ref = reference(name);
    for (const key of ['normV', 'normTarget', 'ratio', 'cosine'] as const) close(await detailValue(heat, key), ref[key], `${name} ${key}`);
    expect(await detailValue(heat, 'elements')).toBe(ref.elements);
  }
  await expect(detail).toBeVisible();
  await testInfo.attach('heatmap-focused-cell', { body: await heat.screenshot(), contentType: 'image/png' });
});

test('‖α·v‖/‖θ_target‖ follows the merge panel’s α: |α|·‖v‖/‖θ_target‖ of the reference, for two α', async ({ page }, testInfo) => {
  const heat = await openHeatmap(page, testInfo.outputPath('trio'));
  await heat.getByLabel('heatmap metric').selectOption('alphaRatio');
  const name = 'model.layers.0.mlp.up_proj.weight';
  const ref = reference(name);
  const cell = heat.getByTestId('cell-0-up_proj');
  for (const alpha of [0.5, -1.5]) {
    await page.getByLabel('alpha', { exact: true }).fill(String(alpha));
    await expect(heat.getByTestId('heatmap-legend')).toContainText(`(α = ${alpha})`);
    close(Number(await cell.getAttribute('data-value')), Math.abs(alpha) * ref.ratio, `cell at α = ${alpha}`);
    await page.mouse.move(0, 0); // off the grid: hovering a cell would show that cell instead
    await cell.focus();
    await expect(heat.getByTestId('heatmap-detail-name')).toHaveText(name);
    close(await detailValue(heat, 'alphaRatio'), Math.abs(alpha) * ref.ratio, `detail at α = ${alpha}`);
    // The legend's ends move with α too: they stay the grid's min and max.
    const values = await gridValues(heat);
    expect(Number(await heat.getByTestId('heatmap-legend').getAttribute('data-max'))).toBe(Math.max(...values));
    await testInfo.attach(`heatmap-alpha-${alpha}`, { body: await heat.screenshot(), contentType: 'image/png' });
  }
});
