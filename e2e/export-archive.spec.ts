import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { unzipSync } from 'fflate';

/**
 * "Download all (.zip)" of an export saved in the origin-private file system (no folder picker):
 * the archive, read back by fflate (not the library that wrote it), holds each file with the
 * same bytes as its own download link.
 */

// Each test saves an export and downloads it four times over: slow when the machine is shared.
test.describe.configure({ timeout: 180_000 });

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function saveVectorWithoutFolderPicker(page: Page, savePicker: 'none' | 'opfs-stub') {
  await page.addInitScript((savePicker) => {
    const w = window as unknown as Record<string, unknown>;
    delete w.showDirectoryPicker;
    delete w.showSaveFilePicker;
    // Headless Chromium cannot show a save dialog: the stub "picks" a file in OPFS.
    if (savePicker === 'opfs-stub') {
      w.showSaveFilePicker = async (o: { suggestedName: string }) => (await navigator.storage.getDirectory()).getFileHandle(`picked-${o.suggestedName}`, { create: true });
    }
  }, savePicker);
  await page.goto('/');
  await page.getByRole('button', { name: 'Load the demo trio' }).click();
  await page.getByRole('button', { name: 'Save vector…' }).click();
  await expect(page.getByTestId('merge-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 }); // slow when the machine is shared
}

/** Each per-file link's download, by name. */
async function perFileDownloads(page: Page): Promise<Record<string, Uint8Array>> {
  await page.getByText('Files one by one').click();
  const out: Record<string, Uint8Array> = {};
  const links = page.getByTestId('merge-files').getByRole('link');
  for (const name of await links.allTextContents()) {
    const dl = page.waitForEvent('download');
    await links.filter({ hasText: name }).click();
    out[name] = readFileSync(await (await dl).path());
  }
  return out;
}

test('without any picker: the ZIP is built in OPFS and downloaded; each file equals its own link (sha256)', async ({ page }) => {
  await saveVectorWithoutFolderPicker(page, 'none');
  await expect(page.getByTestId('archive-route')).toHaveAttribute('data-route', 'opfs');
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download all (.zip)' }).click();
  const download = await dl;
  expect(download.suggestedFilename()).toBe('reasoning-vector.zip');
  const zipBytes = readFileSync(await download.path());
  await expect(page.getByTestId('archive-result')).toHaveAttribute('data-bytes', String(zipBytes.length));
  const entries = unzipSync(zipBytes);
  const single = await perFileDownloads(page);
  expect(Object.keys(entries)).toEqual(['model.safetensors', 'config.json', 'reasoning_vector.json']);
  expect(Object.keys(single).sort()).toEqual(Object.keys(entries).sort());
  for (const [name, bytes] of Object.entries(entries)) expect(sha(bytes), name).toBe(sha(single[name]));
  // Stored, not deflated: the archive is the files plus headers (≤ 200 bytes per file here).
  const sum = Object.values(entries).reduce((s, b) => s + b.length, 0);
  expect(zipBytes.length - sum).toBeLessThan(200 * 3);
});

test('with showSaveFilePicker: the ZIP is streamed into the picked file, same bytes', async ({ page }) => {
  await saveVectorWithoutFolderPicker(page, 'opfs-stub');
  await expect(page.getByTestId('archive-route')).toHaveAttribute('data-route', 'picker');
  await page.getByRole('button', { name: 'Download all (.zip)' }).click();
  await expect(page.getByTestId('archive-result')).toContainText('Saved "picked-reasoning-vector.zip"');
  const zipBytes = Buffer.from(
    await page.evaluate(async () => [...new Uint8Array(await (await (await (await navigator.storage.getDirectory()).getFileHandle('picked-reasoning-vector.zip')).getFile()).arrayBuffer())]),
  );
  const entries = unzipSync(zipBytes);
  const single = await perFileDownloads(page);
  expect(Object.keys(entries)).toEqual(['model.safetensors', 'config.json', 'reasoning_vector.json']);
  for (const [name, bytes] of Object.entries(entries)) expect(sha(bytes), name).toBe(sha(single[name]));
});

test('without writable files (the last resort): the ZIP is collected in memory, saying so; same bytes', async ({ page }) => {
  await saveVectorWithoutFolderPicker(page, 'none');
  // Now a browser whose OPFS files cannot be opened as writable streams (older Safari). The export
  // above needed them, so they go only after it.
  await page.evaluate(() => delete (FileSystemFileHandle.prototype as unknown as Record<string, unknown>).createWritable);
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download all (.zip)' }).click();
  const entries = unzipSync(readFileSync(await (await dl).path()));
  const route = page.getByTestId('archive-route');
  await expect(route).toHaveAttribute('data-route', 'memory');
  await expect(route).toContainText('assembled in memory');
  const single = await perFileDownloads(page);
  expect(Object.keys(entries)).toEqual(['model.safetensors', 'config.json', 'reasoning_vector.json']);
  for (const [name, bytes] of Object.entries(entries)) expect(sha(bytes), name).toBe(sha(single[name]));
});
