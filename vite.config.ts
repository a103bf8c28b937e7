import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: false },
  preview: { port: 4173 },
  build: { target: 'es2022' },
  // Pyodide is imported only by the Python sandbox's Web Worker, which Vite's dependency
  // scan does not follow: pre-bundle it at start-up, or the first run finds it late and
  // reloads the page mid-run (src/engine/eval/python/browser-worker.mjs).
  optimizeDeps: { include: ['pyodide', 'pyodide/pyodide.asm.mjs'] },
});
