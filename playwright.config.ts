import { defineConfig } from '@playwright/test';

/**
 * Ports for the e2e run: the studio (Vite) and the local mock of the Hub. Overridable
 * (STUDIO_E2E_PORT, STUDIO_E2E_HUB_PORT) so a second run can go beside one that holds the defaults.
 */
export const STUDIO_PORT = Number(process.env.STUDIO_E2E_PORT || 5174);
export const MOCK_HUB_PORT = Number(process.env.STUDIO_E2E_HUB_PORT || 7861);

/**
 * Debian's Chromium, headless, with WebGPU through SwiftShader (no GPU on CI machines).
 * The background-networking flags keep Chromium from dialling Google on a closed network.
 */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  // On CI one retry, as Playwright's own template does: a test that passes only on its retry is
  // still listed as "flaky" in the report (and in the closing note), but a single timing hiccup on a
  // shared 2-core machine does not hold back everything else. Locally none, so flakes show at once.
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${STUDIO_PORT}`,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'off',
  },
  webServer: [
    {
      command: `npx tsx scripts/mock-hub.ts --port ${MOCK_HUB_PORT} --fixtures fixtures/models`,
      url: `http://127.0.0.1:${MOCK_HUB_PORT}/__mock/requests`,
      reuseExistingServer: !process.env.CI,
      stdout: 'pipe',
    },
    {
      command: `npx vite --host 127.0.0.1 --port ${STUDIO_PORT} --strictPort`,
      url: `http://127.0.0.1:${STUDIO_PORT}`,
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
  ],
});
