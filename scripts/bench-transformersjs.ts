/**
 * npm run bench:transformersjs [-- --size fixture|0.5b|all] [--layers N] [--tokens N] [--repeats N] [--threads N] [--max-data-file SIZE]
 *
 * Decode tokens/s of the studio's decode loop against transformers.js 4.x, measured in one run, on
 * the same exported ONNX weights and the same backend (onnxruntime-node, CPU EP, same session
 * options), with their ratio (goal ≥ 1.0×):
 *  - `studio export-onnx` writes θ(α) (α = 1) as a transformers.js folder (onnx/model.onnx +
 *    onnx/model.onnx_data);
 *  - transformers.js: AutoModelForCausalLM.from_pretrained(folder) and its greedy `generate`;
 *  - ours: DecoderModel (the CLI's model) over the same model.onnx_data, twice: with the graph the
 *    CLI runs (fused com.microsoft ops on the CPU provider by default, decoder-model.ts
 *    defaultFused) and with the standard-op graph, the export's own ops — so the loop and the graph
 *    are measured apart.
 *
 * What the comparison measures: all sessions read one weights file on one runtime. The
 * standard-op graph and the export differ only where each loop needs them to — ours takes
 * `logits_to_keep` (the last position's logits only), the export gives every position's logits (at
 * a decode step that is one position either way; at prefill ours computes 1 row of the head, theirs
 * all). Each token's arrival is time-stamped (our loop's per-token stop-string check, transformers.js's
 * streamer), so decode steps are measured one by one, prefill and session creation excluded; the
 * rate is 1 / the median step over every step of `--repeats` runs (default 5; robust to a disturbed
 * step on a shared machine), the order of the three rotating between runs. All are forced past EOS
 * so they generate the same count; their tokens are compared and reported.
 *
 * `--max-data-file` (e.g. 500MB) is passed to export-onnx: the weights are then split into data
 * chunks (model.onnx_data, _data_1, …) as a > 2 GB export is, and both loops read the chunks.
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
import { DecoderModel, defaultFused } from '../src/engine/model/decoder-model.ts';
import { byteSizeFlag } from '../src/cli/commands/export-onnx.ts';
import { BROWSER_DATA_CHUNK_LIMIT, externalDataFileOf } from '../src/engine/export/onnx-folder.ts';
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
/**
 * Intra-op threads of both sessions (default 1): on a shared, loaded machine spinning worker
 * threads made timings swing by 2× (see OrtRuntime's cpuThreads); 0 = onnxruntime's default.
 */
const threads = Number(arg('threads', '1'));
const maxDataFile = arg('max-data-file', '');
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
const SESSION_OPTIONS = { graphOptimizationLevel: 'all', logSeverityLevel: 3, ...(threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}) } as const;

async function bench(t: Trio) {
  const work = mkdtempSync(join(tmpdir(), 'bench-tjs-'));
  try {
    const folder = join(work, 'export');
    const exportStart = performance.now();
    const summary = execFileSync(process.execPath, [join(root, 'bin/studio.js'), 'export-onnx', '--sft', t.sft, '--rl', t.rl, '--target', t.target, '--alpha', '1', '--device', 'cpu', '--out', folder, ...(maxDataFile ? ['--max-data-file', maxDataFile] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, STUDIO_CACHE_DIR: join(work, 'cache') },
    });
    const exportSeconds = (performance.now() - exportStart) / 1000;
    const { dataFiles } = JSON.parse(summary.toString().trim().split('\n').at(-1)!) as { dataFiles: number[] };

    // transformers.js on the folder, local files only.
    env.allowRemoteModels = false;
    env.localModelPath = work;
    const theirs: PreTrainedModel = await AutoModelForCausalLM.from_pretrained('export', { local_files_only: true, device: 'cpu', session_options: { ...SESSION_OPTIONS } });
    const ids = new Tensor('int64', BigInt64Array.from(PROMPT.map(BigInt)), [1, PROMPT.length]);
    const mask = new Tensor('int64', new BigInt64Array(PROMPT.length).fill(1n), [1, PROMPT.length]);
    // Each new token's arrival, through transformers.js's streamer (put: the prompt, then each token).
    const theirsRun = async (n: number, stamps: number[] = []) => {
      const streamer = { put: () => void stamps.push(performance.now()), end: () => {} };
      const out = (await theirs.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: n, min_new_tokens: n, do_sample: false, streamer } as Record<string, unknown>)) as Tensor;
      stamps.shift(); // the prompt's put
      return out.tolist()[0].slice(PROMPT.length).map(Number);
    };

    // Ours on the same weights file: the studio's graph (logits_to_keep) written beside it.
    const ckpt = await openCheckpoint(await localFolderSource(t.target));
    const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, x]) => [n, x.shape])), ckpt.source.label);
    // The export's layout: the graph's weights in order, float32, in chunks of at most its limit.
    const layout = layoutExternalData(spec.weights, 'float32', { maxFileBytes: maxDataFile ? byteSizeFlag(maxDataFile) : BROWSER_DATA_CHUNK_LIMIT });
    if (layout.files.join() !== dataFiles.join()) throw new Error(`the export's data files ${dataFiles.join(', ')} are not the layout's ${layout.files.join(', ')}`);
    const onnxDir = join(folder, 'onnx');
    const runtime = new OrtRuntime({ ort: (await import('onnxruntime-node')) as unknown as Ort, provider: 'cpu', cpuThreads: threads > 0 ? threads : undefined });
    // Two graphs of ours over the same data file: the CLI's (fused contrib ops on the CPU provider
    // by default, defaultFused) and the standard-op graph, the export's own ops.
    const studioModel = (fused: boolean, file: string) =>
      new DecoderModel(
        runtime,
        ckpt.config,
        spec,
        {
          kind: 'external',
          files: {
            location: externalDataFileOf('model.onnx'),
            tensors: externalRanges(layout, (i) => externalDataFileOf('model.onnx', i)),
            writeGraph: async (_name, bytes) => {
              const path = join(onnxDir, file);
              writeFileSync(path, bytes);
              return path;
            },
          },
        },
        'float32',
        { fused },
      );
    const models = { studio: studioModel(defaultFused('cpu') !== false, 'studio-decoder.onnx'), standard: studioModel(false, 'studio-decoder-standard.onnx') };
    for (const m of Object.values(models)) await m.prepare('last');
    // Each new token's arrival: the loop checks stop strings after every token through `decode`
    // (a stop string that never occurs); its last call decodes the final text, after the loop.
    const oursRun = (m: DecoderModel) => async (n: number, stamps: number[] = []) => {
      const decode = () => (stamps.push(performance.now()), '');
      const [row] = await m.generate([PROMPT], { maxNewTokens: n, eosTokenIds: [], stopStrings: ['\u0000never'], decode });
      stamps.pop();
      return row.ids;
    };
    const contenders = {
      studio: { label: `studio loop, CLI graph${defaultFused('cpu') !== false ? ' (fused ops)' : ''}`, run: oursRun(models.studio) },
      standard: { label: 'studio loop, standard-op graph', run: oursRun(models.standard) },
      theirs: { label: 'transformers.js 4.x, exported graph', run: theirsRun },
    };
    type Who = keyof typeof contenders;
    const names = Object.keys(contenders) as Who[];

    // Warm-up (first-run allocations) and the tokens each gives, then timed runs.
    const tokens = Object.fromEntries(await Promise.all(names.map(async (w) => [w, await contenders[w].run(decodeTokens + 1)] as const))) as Record<Who, number[]>;
    // Per run: the first token (prefill + one step) and each decode step's interval between tokens.
    // The order rotates between repeats, so no loop always runs after the same other one.
    const runs = Object.fromEntries(names.map((w) => [w, { first: [] as number[], steps: [] as number[], whole: [] as number[] }])) as Record<Who, { first: number[]; steps: number[]; whole: number[] }>;
    for (let r = 0; r < repeats; r++) {
      for (let k = 0; k < names.length; k++) {
        const who = names[(r + k) % names.length];
        const stamps: number[] = [];
        const t0 = performance.now();
        const got = await contenders[who].run(decodeTokens + 1, stamps);
        if (stamps.length !== got.length || got.length !== decodeTokens + 1) throw new Error(`${who}: ${stamps.length} token times for ${got.length} tokens`);
        runs[who].first.push(stamps[0] - t0);
        for (let i = 1; i < stamps.length; i++) runs[who].steps.push(stamps[i] - stamps[i - 1]);
        runs[who].whole.push((stamps[stamps.length - 1] - stamps[0]) / decodeTokens);
      }
    }
    // tokens/s from the median decode step over every step of every run (robust to a disturbed
    // step on a shared machine), and from the median run's mean step.
    const perStep = (who: Who) => 1000 / median(runs[who].steps);
    const perRun = (who: Who) => 1000 / median(runs[who].whole);
    console.log(`\n${t.label}`);
    console.log(`  export-onnx: ${exportSeconds.toFixed(2)} s (${(layout.bytes / 1e6).toFixed(1)} MB of float32 weights in ${layout.files.length} data file${layout.files.length > 1 ? `s: ${layout.files.map((b) => (b / 1e6).toFixed(1)).join(' + ')} MB` : ''})`);
    console.log(`  prompt ${PROMPT.length} tokens, ${decodeTokens} decode steps per run, ${repeats} runs each`);
    for (const w of names) {
      console.log(
        `  ${contenders[w].label.padEnd(40)}: ${perStep(w).toFixed(2)} tokens/s (median step ${median(runs[w].steps).toFixed(1)} ms; median run ${perRun(w).toFixed(2)} tokens/s; first token ${median(runs[w].first).toFixed(1)} ms)`,
      );
    }
    for (const w of ['studio', 'standard'] as const) {
      console.log(`  ratio ${contenders[w].label} / transformers.js: ${(perStep(w) / perStep('theirs')).toFixed(2)}× by median step, ${(perRun(w) / perRun('theirs')).toFixed(2)}× by median run (goal ≥ 1.0×)`);
    }
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    console.log(`  greedy tokens identical: ${same(tokens.standard, tokens.theirs) ? 'standard graph = transformers.js' : `NO — standard ${tokens.standard.join(',')} vs transformers.js ${tokens.theirs.join(',')}`}; ${same(tokens.studio, tokens.theirs) ? 'CLI graph = transformers.js' : `CLI graph ${tokens.studio.join(',')} vs transformers.js ${tokens.theirs.join(',')}`}`);
    await theirs.dispose();
    for (const m of Object.values(models)) await m.dispose();
    await runtime.dispose();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`onnxruntime-node CPU EP for all (same session options: ${JSON.stringify(SESSION_OPTIONS)}); α = 1`);
for (const t of trios()) await bench(t);
