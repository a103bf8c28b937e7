/**
 * npm run bench:real-size [-- --sizes 0.5b,1.5b] [--new-tokens N] [--with-wasm]
 *
 * The CLI at real sizes: Qwen2.5-0.5B- and 1.5B-shaped trios (real configs, random bf16 weights,
 * scripts/make-real-size-checkpoint.ts) merged on the fly at α = 0.5 and run on onnxruntime-node,
 * each command a `node bin/studio.js` child process as users run it, with a fresh model cache:
 *  1. generate, cold: merge → float32 external data in the cache → session → tokens;
 *  2. generate, warm: the same command, reusing the cached weights (no checkpoint read);
 *  3. forward and eval (demo_arith, log-likelihood), warm;
 *  4. sweep over α ∈ {0, 1} (demo_arith): both points merged and written, a session each.
 * Prints wall time and peak RSS (getrusage, test-support/peak-rss.mjs) ÷ the model's float32
 * weight bytes for each, the cold/warm ratio, and the machine's load, all measured in this run.
 * --with-wasm also runs step 1 on onnxruntime-web's WASM build (the path the CLI had before, and
 * the page's no-WebGPU fallback), to show where it fails.
 * Disk: 3 × 1 GB (0.5B) and 3 × 3.1 GB (1.5B) of checkpoints under fixtures/real-size/ (kept
 * for the next run), plus 2 and 6.2 GB of float32 weights per α in a temporary cache (removed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRealSizeTrio, realSizeStats, REAL_SIZES, type RealSize } from './bench/real-size-trio.ts';
import { measureStudio, type Measured } from './bench/measure-studio.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const sizes = arg('sizes', '0.5b,1.5b').split(',') as RealSize[];
for (const s of sizes) if (!(s in REAL_SIZES)) throw new Error(`--sizes: ${s} is not one of ${Object.keys(REAL_SIZES).join(', ')}`);
const newTokens = Number(arg('new-tokens', '8'));
const withWasm = process.argv.includes('--with-wasm');
const GB = 1e9;
const PROMPT = [9707, 11, 1879, 0, 3555, 374, 220, 17];

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${load()} (1/5/15 min; shared with other work)`);

const studio = (args: string[], env: Record<string, string>) => measureStudio(args, env, 'bench-real-size');

const rows: string[][] = [['size', 'command', 'exit', 'wall s', 'peak RSS GB', 'RSS ÷ f32 weights']];
function report(size: string, what: string, r: Measured, f32: number) {
  rows.push([size, what, String(r.code), r.seconds.toFixed(1), (r.peakRss / GB).toFixed(2), (r.peakRss / f32).toFixed(2)]);
  console.log(`  ${what}: exit ${r.code}, ${r.seconds.toFixed(1)} s, peak RSS ${(r.peakRss / GB).toFixed(2)} GB = ${(r.peakRss / f32).toFixed(2)} × the float32 weights  (load ${load()})`);
  if (r.code !== 0) console.log(`    stderr: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
}

for (const size of sizes) {
  const stats = realSizeStats(size);
  const t0 = performance.now();
  const dirs = ensureRealSizeTrio(join(root, 'fixtures', 'real-size', size), size, 1, (l) => console.log(`  ${l}`));
  console.log(`\n${size}: ${(stats.parameters / 1e9).toFixed(3)} B parameters, float32 weights ${(stats.f32Bytes / GB).toFixed(2)} GB; trio ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const cache = mkdtempSync(join(tmpdir(), `bench-real-size-${size}-`));
  const env = { STUDIO_CACHE_DIR: cache };
  const trio = ['--sft', dirs.sft, '--rl', dirs.rl, '--target', dirs.target, '--device', 'cpu'];
  const gen = ['generate', ...trio, '--alpha', '0.5', '--ids', PROMPT.join(','), '--max-new-tokens', String(newTokens)];
  try {
    if (withWasm) report(size, `generate ${newTokens} tokens, onnxruntime-web WASM (weights in the graph)`, await studio(gen, { ...env, STUDIO_ORT_PROVIDER: 'wasm' }), stats.f32Bytes);
    const cold = await studio(gen, env);
    report(size, `generate ${newTokens} tokens, cold (merge + write weights + session)`, cold, stats.f32Bytes);
    const warm = await studio(gen, env);
    report(size, `generate ${newTokens} tokens, warm (cached weights)`, warm, stats.f32Bytes);
    if (cold.code === 0 && warm.code === 0) {
      const a = JSON.parse(cold.stdout.trim().split('\n').at(-1)!).ids;
      const b = JSON.parse(warm.stdout.trim().split('\n').at(-1)!).ids;
      console.log(`  cold ÷ warm wall time: ${(cold.seconds / warm.seconds).toFixed(2)}×; same ids: ${JSON.stringify(a) === JSON.stringify(b)}`);
    }
    const logits = join(cache, 'logits.json');
    report(size, `forward ${PROMPT.length} ids, warm`, await studio(['forward', ...trio, '--alpha', '0.5', '--ids', PROMPT.join(','), '--out', logits], env), stats.f32Bytes);
    report(size, 'eval demo_arith --limit 10 (log-likelihood), warm', await studio(['eval', ...trio, '--alpha', '0.5', '--task', 'demo_arith', '--limit', '10', '--out', join(cache, 'eval.json')], env), stats.f32Bytes);
    const config = join(cache, 'sweep.json');
    writeFileSync(config, JSON.stringify({ sft: dirs.sft, rl: dirs.rl, target: dirs.target, alphas: [0, 1], tasks: [{ task: 'demo_arith', limit: 5 }], controls: { donors: false, random_vector_seed: null } }));
    report(size, 'sweep α ∈ {0, 1}, demo_arith × 5 (both α merged and written)', await studio(['sweep', '--config', config, '--out', join(cache, 'sweep-results.json')], env), stats.f32Bytes);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

console.log('\n' + rows.map((r) => r.map((c, i) => (i === 1 ? c.padEnd(68) : c.padStart(i === 0 ? 5 : 10))).join(' ')).join('\n'));
console.log(`load average at the end: ${load()}`);
