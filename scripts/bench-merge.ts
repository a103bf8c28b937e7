/**
 * npm run bench:merge [-- --size small|medium] [--repeats N]
 *
 * One run, one trio, three ways:
 *  1. the page's GPU path (WGSL kernels through Chromium's WebGPU) and
 *  2. the page's TypeScript CPU loop, both on the same in-memory trio in the same page;
 *  3. the CLI's path in Node (CPU loop, streamed from disk), with peak resident memory.
 * Prints output bytes/s for each, the GPU/CPU ratio, and peak memory divided by the largest tensor.
 * On a machine without a GPU, Chromium's WebGPU is SwiftShader (a CPU emulation): the ratio
 * then says how the WGSL path costs against plain TypeScript, not what a real GPU does.
 */
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import { CpuTensorMerger } from '../src/engine/merge/cpu-tensor-merger.ts';
import { planMerge } from '../src/engine/merge/merge-plan.ts';
import { memoryOutputFolder } from '../src/engine/merge/output/output-folder.ts';
import { runMerge } from '../src/engine/merge/stream-merge.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { BENCH_SHAPES, ensureBenchTrio } from './bench/bench-trio.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const size = arg('size', 'small');
if (!(size in BENCH_SHAPES)) throw new Error(`--size must be one of ${Object.keys(BENCH_SHAPES).join(', ')}`);
const repeats = Number(arg('repeats', '3'));
const MB = 1e6;

const t0 = performance.now();
const dirs = ensureBenchTrio(join(root, 'fixtures', 'bench'), size);
console.log(`trio "${size}" ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${Object.values(dirs).map((d) => relative(root, d)).join(', ')}`);

// 3. Node, CPU loop, streamed from disk: time and peak RSS above the baseline.
const [sft, rl, target] = await Promise.all([dirs.sft, dirs.rl, dirs.target].map(async (d) => openCheckpoint(await localFolderSource(d))));
const plan = planMerge({ sft, rl, target }, { mode: 'merge' });
global.gc?.();
const baseRss = process.memoryUsage().rss;
let peakRss = baseRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);
const nodeRuns: number[] = [];
for (let i = 0; i < repeats; i++) {
  const s = performance.now();
  await runMerge({ plan, merger: new CpuTensorMerger(), alpha: 0.5, out: memoryOutputFolder({ discard: true }) });
  nodeRuns.push((performance.now() - s) / 1000);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
clearInterval(sampler);
const node = Math.min(...nodeRuns);

// 1 + 2. Chromium: the harness page served by Vite.
const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), server: { host: '127.0.0.1', port: 0 }, logLevel: 'error' });
await server.listen();
const address = server.httpServer!.address() as { port: number };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${address.port}/e2e/harness/bench-merge.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  const url = (d: string) => '/' + relative(root, d).split('\\').join('/');
  const res = (await page.evaluate(
    ([bases, repeats]) => (window as unknown as { runBench: (b: unknown, r: number) => Promise<unknown> }).runBench(bases, repeats as number),
    [{ sft: url(dirs.sft), rl: url(dirs.rl), target: url(dirs.target) }, repeats] as const,
  )) as {
    adapter: string;
    outputBytes: number;
    largestTensorBytes: number;
    gpu: { seconds: number; runs: number[]; peakBufferedBytes: number };
    cpu: { seconds: number; runs: number[]; peakBufferedBytes: number };
  };
  const out = res.outputBytes;
  const rate = (s: number) => `${(out / s / MB).toFixed(1).padStart(8)} MB/s`;
  const largest = plan.largestTensorBytes;
  console.log(`\nmodel: ${plan.tensors.length} tensors, ${(out / MB).toFixed(1)} MB per checkpoint (bf16), largest tensor ${(largest / MB).toFixed(1)} MB`);
  console.log(`WebGPU adapter: ${res.adapter}; best of ${repeats} runs; rates are output bytes per second (each reads 3× that)\n`);
  console.log(`page, GPU path (WGSL)          ${res.gpu.seconds.toFixed(3).padStart(7)} s ${rate(res.gpu.seconds)}   runs ${res.gpu.runs.map((r) => r.toFixed(2)).join(' ')}`);
  console.log(`page, CPU loop (TypeScript)    ${res.cpu.seconds.toFixed(3).padStart(7)} s ${rate(res.cpu.seconds)}   runs ${res.cpu.runs.map((r) => r.toFixed(2)).join(' ')}`);
  console.log(`node, CPU loop, from disk      ${node.toFixed(3).padStart(7)} s ${rate(node)}   runs ${nodeRuns.map((r) => r.toFixed(2)).join(' ')}`);
  console.log(`\nGPU / CPU throughput ratio (same page, same run): ${(res.cpu.seconds / res.gpu.seconds).toFixed(2)}×`);
  console.log(`peak memory / largest tensor:`);
  console.log(`  node RSS above baseline: ${((peakRss - baseRss) / MB).toFixed(1)} MB = ${((peakRss - baseRss) / largest).toFixed(2)}× (whole model: ${(3 * out / MB).toFixed(0)} MB of inputs)`);
  console.log(`  pipeline buffers (inputs in flight + output chunk): GPU path ${(res.gpu.peakBufferedBytes / MB).toFixed(1)} MB = ${(res.gpu.peakBufferedBytes / largest).toFixed(2)}×, CPU path ${(res.cpu.peakBufferedBytes / MB).toFixed(1)} MB = ${(res.cpu.peakBufferedBytes / largest).toFixed(2)}×`);
} finally {
  await browser.close();
  await server.close();
}
