/**
 * npm run bench:fused — decode tokens/s of the fused contrib-op graph (SkipSimplifiedLayerNormalization,
 * RotaryEmbedding, GroupQueryAttention; src/engine/model/fused-ops.ts) against the standard-ops
 * graph, same model, same provider, same run, with the ratio:
 *  - Node, onnxruntime-node's CPU EP: the bench model, and Qwen2.5-0.5B's real widths (vocab
 *    151,936, hidden 896, 14/2 heads, head_dim 64) with `--layers` layers (default 4);
 *  - the page, onnxruntime-web's WebGPU EP (`--page`; SwiftShader here, so only the ratio means
 *    anything, and even it is a software rasteriser's ratio, not a GPU's).
 * Flags: --rounds N (default 7), --decode N (default 16), --prompt N (default 32), --layers N (default 4),
 * --threads N (onnxruntime-node intra-op threads, default 1), --skip-real, --page, --page-only,
 * --page-real (the page on the Qwen2.5-0.5B widths instead of the bench model), --bandwidth-gbs N.
 *
 * On a real GPU: decode is bound by reading every weight once per token (batch 1), so
 * tokens/s × weight bytes is the weight-read rate the decode achieves; divided by the device's
 * memory bandwidth (--bandwidth-gbs, from its data sheet) it is the fraction of the roofline.
 * The page section prints both; on SwiftShader the fraction is meaningless and is not printed.
 * The page compares the standard graph with all fused ops only (each variant's first run compiles
 * its WGSL, minutes under SwiftShader).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrtRuntime, type Ort } from '../src/engine/model/ort-runtime.ts';
import { realConfig } from './bench/real-size-trio.ts';
import { benchFused, benchSpec, randomWeights, SMALL, VARIANTS, weightBytes, type BenchShape, type FusedBenchRow } from './bench/fused-bench.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const has = (name: string) => process.argv.includes(`--${name}`);
const o = { promptTokens: arg('prompt', 32), decodeTokens: arg('decode', 16), batches: [1, 4], rounds: arg('rounds', 7) };
const layers = arg('layers', 4);

function print(title: string, rows: FusedBenchRow[]) {
  console.log(`\n${title}`);
  for (const r of rows) {
    console.log(`  batch ${r.batch}:`);
    for (const v of r.variants) {
      const cpu = v.cpuDecode === undefined ? '' : `; per CPU-second ${v.cpuDecode.toFixed(1).padStart(7)} tokens, ratio ${v.cpuRatio!.toFixed(2)}×`;
      console.log(`    ${v.label.padEnd(38)} decode ${v.decode.toFixed(1).padStart(7)} tokens/s wall, ratio to standard ${v.ratio.toFixed(2)}×${cpu}  (prefill ${(v.prefill * 1000).toFixed(0)} ms)`);
    }
  }
}

console.log(`prompt ${o.promptTokens} tokens, ${o.decodeTokens} decoded, median of ${o.rounds} alternating rounds; onnxruntime-node with ${arg('threads', 1)} intra-op thread(s)`);
const ort = (await import('onnxruntime-node')) as unknown as Ort;
const shapes: BenchShape[] = has('page-only') ? [] : [SMALL];
if (!has('skip-real') && !has('page-only')) shapes.push({ label: `Qwen2.5-0.5B widths, ${layers} layers (head_dim 64)`, config: realConfig('0.5b', layers) });
for (const shape of shapes) {
  const { config, spec } = benchSpec(shape);
  const runtime = new OrtRuntime({ ort, provider: 'cpu', cpuThreads: arg('threads', 1) });
  const cpuClock = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const rows = await benchFused(runtime, config, spec, { kind: 'embedded', arrays: randomWeights(spec) }, { ...o, cpuClock });
  print(`node: onnxruntime-node (cpu), ${shape.label}, ${(weightBytes(spec, 4) / 2 ** 20).toFixed(0)} MiB f32 weights`, rows);
  await runtime.dispose();
}

const pageShape: BenchShape = has('page-real') ? { label: `Qwen2.5-0.5B widths, ${layers} layers (head_dim 64)`, config: realConfig('0.5b', layers) } : SMALL;
if (has('page')) {
  const { chromium } = await import('@playwright/test');
  const { createServer } = await import('vite');
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  // No HMR: a file saved elsewhere in the tree mid-run would reload the page under the benchmark.
  const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), server: { host: '127.0.0.1', port: 0, hmr: false }, logLevel: 'error' });
  await server.listen();
  const port = (server.httpServer!.address() as { port: number }).port;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/e2e/harness/bench-fused.html`, { timeout: 180_000 });
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 180_000 });
    const res = (await page.evaluate((opts) => (window as unknown as { runFusedBench: (o: unknown) => Promise<unknown> }).runFusedBench(opts), { ...o, batches: [1], variants: [VARIANTS[0], VARIANTS.at(-1)!], shape: pageShape })) as {
      adapter: string;
      rows: FusedBenchRow[];
      firstGeneration: { standard: number; fused: number };
      software: boolean;
    };
    const shape = pageShape;
    const bytes = weightBytes(benchSpec(shape).spec, 4);
    print(`page: onnxruntime-web WebGPU EP (${res.adapter}), ${shape.label}`, res.rows);
    for (const r of res.rows.filter((x) => x.batch === 1)) {
      for (const v of r.variants) {
        const rate = (v.decode * bytes) / 1e9;
        const bw = arg('bandwidth-gbs', 0);
        const fraction = bw > 0 && !res.software ? `, ${((100 * rate) / bw).toFixed(1)}% of ${bw} GB/s` : res.software ? ' (software adapter: no bandwidth fraction)' : ' (give --bandwidth-gbs for the fraction)';
        console.log(`    ${v.label}: ${v.decode.toFixed(1)} tokens/s × ${(bytes / 2 ** 20).toFixed(0)} MiB f32 weights = ${rate.toFixed(2)} GB/s of weight reads${fraction}`);
      }
    }
    console.log(`  first generation on new sessions (WGSL compilation included): standard ${res.firstGeneration.standard.toFixed(1)} s, all fused ${res.firstGeneration.fused.toFixed(1)} s`);
  } finally {
    await browser.close();
    await server.close();
  }
}
