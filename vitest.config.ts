import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts', 'test-support/**/*.spec.ts', 'scripts/**/*.spec.ts'],
    environment: 'node',
    testTimeout: 30_000,
    // Tests that do not set their own cache folder write into the repo's ignored .cache/, never
    // into the user's ~/.cache (the CLI's model store writes there by default).
    env: { STUDIO_CACHE_DIR: process.env.STUDIO_CACHE_DIR || join(root, '.cache', 'test-cache') },
  },
});
