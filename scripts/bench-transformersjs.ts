/**
 * npm run bench:transformersjs [-- --size fixture|0.5b|all] [--layers N] [--tokens N] [--repeats N]
 *
 * Decode tokens/s of the studio's decode loop against transformers.js 4.x, measured in one run, on
 * the same exported ONNX weights and the same backend (onnxruntime-node, CPU EP, same session
 * options), with their ratio (goal ≥ 1.0×):
 *  - `studio export-onnx` writes θ(α) (α = 1) as a transformers.js folder (onnx/model.onnx +
 *    onnx/model.onnx_data);
 *  - transformers.js: AutoModelForCausalLM.from_pretrained(folder) and its greedy `generate`;
 *  - ours: DecoderModel (the CLI's model) over the same model.onnx_data, its graph written beside it.
 *
 * What the comparison measures: both sessions read one weights file and run the same decoder ops
 * (decoder-graph.ts); the graphs differ only where each loop needs them to — ours takes
 * `logits_to_keep` (the last position's logits only), the export gives every position's logits (at
 * a decode step that is one position either way; at prefill ours computes 1 row of the head, theirs
 * all). Decode time is isolated as (time of 1 + N new tokens − time of 1 new token) / N, so prefill
 * and session creation are excluded; median and best over `--repeats` (default 5), the two loops
 * interleaved (on a loaded, shared machine the best repeat is the least disturbed). Both are
 * forced past EOS so they generate the same count; their tokens are compared and reported.
 *
 * Sizes: `fixture` (the demo trio, 2 layers, hidden 128, vocab 288: loop overhead dominates) and
 * `0.5b` (Qwen2.5-0.5B's hidden size, heads and vocabulary 151,936, `--layers` deep, default 4;
 * random weights written by scripts/bench/real-size-trio.ts into fixtures/real-size/0.5b-<N>l).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import { decoderSpec } from '../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../src/engine/model/decoder-model.ts';
import { externalRanges, layoutExternalData } from '../src/engine/model/external-data.ts';
import { OrtRuntime, type Ort } from '../src/engine/model/ort-runtime.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { ensureRealSizeTrio } from './bench/real-size-trio.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const size = arg('size', 'all');
const layers = Number(arg('layers', '4'));
const decodeTokens = Number(arg('tokens', '16'));
const repeats = Number(arg('repeats', '5'));
const PROMPT = [18, 10, 19, 28, 17, 20, 15, 16]; // inside every vocabulary here (the tiny tokenizer's ids)

interface Trio {
  label: string;
  sft: string;
  rl: string;
  target: string;
}

function trios(): Trio[] {
  const out: Trio[] = [];
  if (size === 'fixture' || size === 'all') {
    const m = join(root, 'fixtures', 'models');
    out.push({ label: 'demo trio (fixture): 2 layers, hidden 128, vocab 288', sft: join(m, 'demo-arith-sft'), rl: join(m, 'demo-arith-rl'), target: join(m, 'demo-arith-target') });
  }
  if (size === '0.5b' || size === 'all') {
    const dirs = ensureRealSizeTrio(join(root, 'fixtures', 'real-size', `0.5b-${layers}l`), '0.5b', 1, (l) => console.log(`  ${l}`), layers);
    out.push({ label: `Qwen2.5-0.5B-shaped, ${layers} layers: hidden 896, 14 heads / 2 KV, intermediate 4864, vocab 151,936 (random weights)`, ...dirs });
  }
  if (!out.length) throw new Error(`--size must be fixture, 0.5b or all, not ${size}`);
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const SESSION_OPTIONS = { graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;

async function timeIt<T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

async function bench(t: Trio) {
  const work = mkdtempSync(join(tmpdir(), 'bench-tjs-'));
  try {
    const folder = join(work, 'export');
    const exportStart = performance.now();
    execFileSync(process.execPath, [join(root, 'bin/studio.js'), 'export-onnx', '--sft', t.sft, '--rl', t.rl, '--target', t.target, '--alpha', '1', '--device', 'cpu', '--out', folder], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, STUDIO_CACHE_DIR: join(work, 'cache') },
    });
    const exportSeconds = (performance.now() - exportStart) / 1000;

    // transformers.js on the folder, local files only.
    env.allowRemoteModels = false;
    env.localModelPath = work;
    const theirs: PreTrainedModel = await AutoModelForCausalLM.from_pretrained('export', { local_files_only: true, device: 'cpu', session_options: { ...SESSION_OPTIONS } });
    const ids = new Tensor('int64', BigInt64Array.from(PROMPT.map(BigInt)), [1, PROMPT.length]);
    const mask = new Tensor('int64', new BigInt64Array(PROMPT.length).fill(1n), [1, PROMPT.length]);
    const theirsRun = async (n: number) => {
      const out = (await theirs.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: n, min_new_tokens: n, do_sample: false })) as Tensor;
      return out.tolist()[0].slice(PROMPT.length).map(Number);
    };

    // Ours on the same weights file: the studio's graph (logits_to_keep) written beside it.
    const ckpt = await openCheckpoint(await localFolderSource(t.target));
    const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, x]) => [n, x.shape])), ckpt.source.label);
    const layout = layoutExternalData(spec.weights); // the export's layout: the graph's weights in order, float32
    const onnxDir = join(folder, 'onnx');
    const runtime = new OrtRuntime({ ort: (await import('onnxruntime-node')) as unknown as Ort, provider: 'cpu' });
    const studioModel = new DecoderModel(runtime, ckpt.config, spec, {
      kind: 'external',
      files: {
        location: 'model.onnx_data',
        tensors: externalRanges(layout),
        writeGraph: async (_name, bytes) => {
          const path = join(onnxDir, 'studio-decoder.onnx');
          writeFileSync(path, bytes);
          return path;
        },
      },
    });
    await studioModel.prepare('last');
    const oursRun = async (n: number) => (await studioModel.generate([PROMPT], { maxNewTokens: n, eosTokenIds: [] }))[0].ids;

    // Warm-up (first-run allocations), then interleaved timings.
    const agreeOurs = await oursRun(decodeTokens + 1);
    const agreeTheirs = await theirsRun(decodeTokens + 1);
    const times = { ours1: [] as number[], oursN: [] as number[], theirs1: [] as number[], theirsN: [] as number[] };
    for (let r = 0; r < repeats; r++) {
      times.ours1.push((await timeIt(() => oursRun(1))).seconds);
      times.theirs1.push((await timeIt(() => theirsRun(1))).seconds);
      times.oursN.push((await timeIt(() => oursRun(decodeTokens + 1))).seconds);
      times.theirsN.push((await timeIt(() => theirsRun(decodeTokens + 1))).seconds);
    }
    // Decode time = time(1 + N tokens) − time(1 token), from the medians over repeats, and from the
    // minima (on a shared, loaded machine the least disturbed runs).
    const rate = (pick: (xs: number[]) => number, one: number[], full: number[]) => decodeTokens / Math.max(1e-9, pick(full) - pick(one));
    const best = (xs: number[]) => Math.min(...xs);
    const oursRate = rate(median, times.ours1, times.oursN);
    const theirsRate = rate(median, times.theirs1, times.theirsN);
    const oursBest = rate(best, times.ours1, times.oursN);
    const theirsBest = rate(best, times.theirs1, times.theirsN);
    const same = agreeOurs.length === agreeTheirs.length && agreeOurs.every((x, i) => x === agreeTheirs[i]);
    console.log(`\n${t.label}`);
    console.log(`  export-onnx: ${exportSeconds.toFixed(2)} s (${(layout.bytes / 1e6).toFixed(1)} MB of float32 weights)`);
    console.log(`  prompt ${PROMPT.length} tokens, ${decodeTokens} decoded tokens, median of ${repeats}`);
    console.log(`  studio decode loop   : ${oursRate.toFixed(2)} tokens/s median, ${oursBest.toFixed(2)} best  (first token ${(median(times.ours1) * 1000).toFixed(1)} ms)`);
    console.log(`  transformers.js 4.x  : ${theirsRate.toFixed(2)} tokens/s median, ${theirsBest.toFixed(2)} best  (first token ${(median(times.theirs1) * 1000).toFixed(1)} ms)`);
    console.log(`  ratio studio / transformers.js: ${(oursRate / theirsRate).toFixed(2)}× median, ${(oursBest / theirsBest).toFixed(2)}× best (goal ≥ 1.0×)`);
    console.log(`  greedy tokens identical: ${same ? 'yes' : `NO — studio ${agreeOurs.join(',')} vs transformers.js ${agreeTheirs.join(',')}`}`);
    await theirs.dispose();
    await studioModel.dispose();
    await runtime.dispose();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`onnxruntime-node CPU EP for both (same session options: ${JSON.stringify(SESSION_OPTIONS)}); α = 1`);
for (const t of trios()) await bench(t);
