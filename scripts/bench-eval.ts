/**
 * npm run bench:eval [-- --items N] [--batch B]
 *
 * Items/s of the eval runner (batched generation; log-likelihood contexts run once and shared by
 * their choices) against a naive loop (one item at a time, every choice scored as its own
 * request with its own context pass), on the same model, items and task, in the same run.
 * Model: the demo target (tiny, 2 layers); items: gsm8k (zero-shot CoT, 16 new tokens) and sciq
 * from ../shared/benchmarks. Both loops must give the same per-item verdicts (checked).
 * CPU only (onnxruntime-web's WASM provider in Node): the numbers say nothing about a GPU.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../src/cli/parse-flags.ts';
import { openCheckpoint } from '../src/engine/checkpoint/open-checkpoint.ts';
import { getTask, type AnyTask } from '../src/engine/eval/index.ts';
import { runTask, type EvalModel } from '../src/engine/eval/run/run-task.ts';
import { decoderSpec } from '../src/engine/model/decoder-graph.ts';
import { DecoderModel } from '../src/engine/model/decoder-model.ts';
import { OrtRuntime, type Ort } from '../src/engine/model/ort-runtime.ts';
import { StudioTokenizer } from '../src/engine/model/tokenizer.ts';
import { checkpointWeightsF32 } from '../src/engine/model/weights.ts';
import { localFolderSource } from '../src/engine/sources/local-folder-source.ts';
import { readBenchmarkJsonl } from '../test-support/benchmark-files.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { flags } = parseFlags(process.argv.slice(2), { items: { type: 'string' }, batch: { type: 'string' } }, { context: 'bench:eval' });
const N = Number(flags.get('items') ?? 16);
const B = Number(flags.get('batch') ?? 8);

const ckpt = await openCheckpoint(await localFolderSource(join(root, 'fixtures/models/demo-arith-target')));
const spec = decoderSpec(ckpt.config, new Map([...ckpt.tensors].map(([n, t]) => [n, t.shape])), ckpt.source.label);
const ort = (await import('onnxruntime-web')) as unknown as Ort;
const runtime = new OrtRuntime({ ort, provider: 'wasm' });
const model = new DecoderModel(runtime, ckpt.config, spec, { kind: 'embedded', arrays: await checkpointWeightsF32(ckpt, spec) });
const m: EvalModel = { model, tokenizer: await StudioTokenizer.load(ckpt) };
await model.prepare('last');
await model.prepare('all');

const cases: { task: AnyTask; file: string; maxNewTokens?: number }[] = [
  { task: getTask('gsm8k_cot_zeroshot'), file: 'gsm8k/test_first200.jsonl', maxNewTokens: 16 },
  { task: getTask('sciq'), file: 'sciq/test_first200.jsonl' },
];
console.log(`model: demo-arith-target (${spec.numLayers} layers, hidden ${ckpt.config.hiddenSize}); ${N} items per task; batched runner batch ${B}; onnxruntime-web wasm, CPU`);
for (const c of cases) {
  const items = readBenchmarkJsonl(c.file)
    .slice(0, N)
    .map((row, index) => ({ index, doc: c.task.readDoc(row, `${c.file}:${index + 1}`) }));
  const condition = { mode: 'plain' as const, chatTemplate: false };
  let t = performance.now();
  const fast = await runTask(m, { task: c.task, items, condition, batchSize: B, maxNewTokens: c.maxNewTokens });
  const fastS = (performance.now() - t) / 1000;

  // The naive loop: batch 1; for multiple choice, every choice a separate request and pass.
  t = performance.now();
  const naiveMetrics: Record<string, number>[] = [];
  if (c.task.outputType === 'generate_until') {
    const slow = await runTask(m, { task: c.task, items, condition, batchSize: 1, maxNewTokens: c.maxNewTokens });
    for (const s of slow.samples) naiveMetrics.push(s.metrics);
  } else {
    for (const it of items) {
      const one = await runTask(
        { model: { ...model, spec: model.spec, loglikelihood: async (reqs: Parameters<DecoderModel['loglikelihood']>[0]) => {
          const out = [];
          for (const r of reqs) out.push(...(await model.loglikelihood([r], { batchSize: 1 })));
          return out;
        } } as unknown as DecoderModel, tokenizer: m.tokenizer },
        { task: c.task, items: [it], condition, batchSize: 1 },
      );
      naiveMetrics.push(one.samples[0].metrics);
    }
  }
  const naiveS = (performance.now() - t) / 1000;
  const same = fast.samples.every((s, i) => JSON.stringify(s.metrics) === JSON.stringify(naiveMetrics[i]));
  console.log(
    `${c.task.name.padEnd(20)} runner ${(N / fastS).toFixed(2)} items/s (${fastS.toFixed(1)} s) · naive ${(N / naiveS).toFixed(2)} items/s (${naiveS.toFixed(1)} s) · ratio ${(naiveS / fastS).toFixed(2)}× · same verdicts: ${same}`,
  );
  if (!same) process.exitCode = 1;
}
await model.dispose();
await runtime.dispose();
