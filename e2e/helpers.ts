import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { BrowserContext, Locator, Page, TestInfo } from '@playwright/test';
import { MOCK_HUB_PORT, STUDIO_PORT } from '../playwright.config.ts';

export const FIXTURES = join(process.cwd(), 'fixtures');
export const MOCK_HUB = `http://127.0.0.1:${MOCK_HUB_PORT}`;

/** Every file under a fixture folder, as (path relative to the folder, base64 bytes). */
function folderFiles(dir: string): Array<{ path: string; b64: string }> {
  const out: Array<{ path: string; b64: string }> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push({ path: relative(dir, full).split(sep).join('/'), b64: readFileSync(full).toString('base64') });
    }
  };
  walk(dir);
  return out;
}

/** Drops a fixture folder's files onto a slot, the way a user drags them from a file manager. */
export async function dropFolder(page: Page, target: Locator, dir: string): Promise<void> {
  const files = folderFiles(dir);
  const dataTransfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.path, { type: 'application/octet-stream' }));
    }
    return dt;
  }, files);
  await target.dispatchEvent('dragover', { dataTransfer });
  await target.dispatchEvent('drop', { dataTransfer });
}

export async function setMockFaults(faults: unknown[]): Promise<void> {
  const res = await fetch(`${MOCK_HUB}/__mock/faults`, { method: 'POST', body: JSON.stringify(faults), headers: { 'content-type': 'application/json' } });
  if (!res.ok) throw new Error(`mock hub refused faults: ${res.status}`);
}

export async function clearMockFaults(): Promise<void> {
  await fetch(`${MOCK_HUB}/__mock/faults`, { method: 'DELETE' });
}

export async function useMockHub(page: Page): Promise<void> {
  await page.getByText('Settings').click();
  await page.getByLabel('Hub endpoint').fill(MOCK_HUB);
}

export async function loadHubId(page: Page, role: 'sft' | 'rl' | 'target', id: string): Promise<void> {
  const slot = page.getByTestId(`slot-${role}`);
  await slot.getByRole('textbox').fill(id);
  await slot.getByRole('button', { name: 'Load' }).click();
}

/**
 * A journey's screenshot, kept as a test artefact: written as a PNG into the test's output folder
 * (test-results/<test>/<name>.png, kept whether the test passes or fails) and attached to the report.
 */
export async function keepScreenshot(page: Page, info: TestInfo, name: string, o: { fullPage?: boolean } = {}): Promise<void> {
  const body = await page.screenshot({ path: info.outputPath(`${name}.png`), fullPage: o.fullPage ?? true });
  await info.attach(name, { body, contentType: 'image/png' });
}

/** The studio's own origin in the e2e runs. */
export const STUDIO_ORIGIN = `http://127.0.0.1:${STUDIO_PORT}`;

/** Every request of `context` outside the studio's origin is aborted and recorded (the list is returned, filled as they come). */
export async function offline(context: BrowserContext): Promise<string[]> {
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${STUDIO_ORIGIN}/`) || url === STUDIO_ORIGIN) return route.continue();
    outside.push(url);
    return route.abort();
  });
  return outside;
}
