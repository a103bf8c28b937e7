/**
 * npm run bench:model — run-time figures for issue 4, measured in one run:
 *  - prefill and decode tokens/s, batch 1 and 8: the page (WebGPU EP, weights in the merge
 *    engine's GPU buffers) and Node (onnxruntime-web's WASM EP);
 *  - α change → first new token: re-merging into the weights a live session reads, against the
 *    conventional path (merge on the host, build an ONNX model with the weights inside, create a
 *    new session, run), with their ratio.
 *  - decode tokens/s of the studio's loop against transformers.js 4.x on the same exported ONNX
 *    file and backend, with the ratio (goal ≥ 1.0×): bench-transformersjs.ts on the demo trio, run
 *    as its own process at the end (`npm run bench:transformersjs -- --size 0.5b` for real widths).
 * Uses the synthetic "model" bench trio (~6M parameters). On a machine without a GPU the page's
 * WebGPU is SwiftShader, so its absolute numbers say nothing about a real GPU; the ratios are the point.
 */
import { execFileSync } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import type { Ort } from '../src/engine/model/ort-runtime.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { ensureBenchTrio } from './bench/bench-trio.ts';
import { benchModel, type ModelBenchResult } from './bench/model-bench.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const opts = { promptTokens: 32, decodeTokens: 16, batches: [1, 8] };
const dirs = ensureBenchTrio(join(root, 'fixtures', 'bench'), 'model');

function print(title: string, r: ModelBenchResult) {
  console.log(`\n${title}`);
  for (const p of r.prefill) console.log(`  prefill  batch ${p.batch}: ${p.tokens} tokens in ${p.seconds.toFixed(3)} s = ${p.tokensPerSecond.toFixed(1)} tokens/s`);
  for (const d of r.decode) console.log(`  decode   batch ${d.batch}: ${d.tokens} tokens in ${d.seconds.toFixed(3)} s = ${d.tokensPerSecond.toFixed(1)} tokens/s`);
  const a = r.alphaChange;
  if (!a) return console.log('  α change: no zero-copy path on the WASM provider (weights are baked into a new session per α there)');
  console.log(`  α change → first new token: ${a.zeroCopyLabel} ${(a.zeroCopySeconds * 1000).toFixed(0)} ms; rebuild a session from an ONNX model with the weights inside ${(a.rebuildSeconds * 1000).toFixed(0)} ms; ratio ${a.ratio.toFixed(1)}×`);
}

// Node, WASM EP.
const [sft, rl, target] = await Promise.all([dirs.sft, dirs.rl, dirs.target].map(async (d) => openCheckpoint(await localFolderSource(d))));
const ort = (await import('onnxruntime-web')) as unknown as Ort;
const nodeResult = await benchModel({ sft, rl, target }, ort, undefined, opts);

// Chromium, WebGPU EP.
const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), server: { host: '127.0.0.1', port: 0 }, logLevel: 'error' });
await server.listen();
const port = (server.httpServer!.address() as { port: number }).port;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/e2e/harness/bench-model.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  const url = (d: string) => '/' + relative(root, d).split('\\').join('/');
  const pageResult = (await page.evaluate(
    ([bases, o]) => (window as unknown as { runModelBench: (b: unknown, o: unknown) => Promise<unknown> }).runModelBench(bases, o),
    [{ sft: url(dirs.sft), rl: url(dirs.rl), target: url(dirs.target) }, opts] as const,
  )) as ModelBenchResult & { adapter: string };
  const p = target.config;
  console.log(`model: ${p.numLayers} layers, hidden ${p.hiddenSize}, ${p.numHeads} heads / ${p.numKvHeads} KV, vocab ${p.vocabSize}; prompt ${opts.promptTokens} tokens, ${opts.decodeTokens} decoded`);
  print(`page: onnxruntime-web WebGPU EP (${pageResult.adapter}), ${pageResult.path}`, pageResult);
  print(`node: onnxruntime-web WASM EP (1 thread), ${nodeResult.path}`, nodeResult);
} finally {
  await browser.close();
  await server.close();
}

// Ours against transformers.js on the same exported ONNX file and backend (onnxruntime-node CPU).
console.log('\nstudio decode loop vs transformers.js (bench:transformersjs --size fixture):');
execFileSync(process.execPath, ['--import', './bin/register.js', 'scripts/bench-transformersjs.ts', '--size', 'fixture'], { cwd: root, stdio: 'inherit' });
