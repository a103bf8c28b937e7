import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { RunProgram } from '../../engine/eval/index.ts';
import { OrtRuntime, type Ort } from '../../engine/model/ort-runtime.ts';
import { isSupportedDtype } from '../../engine/safetensors/dtypes.ts';
import { StudioTokenizer } from '../../engine/model/tokenizer.ts';
import { parseSourceSpec } from '../../engine/sources/parse-source-spec.ts';
import {
  HostSweepBackend,
  SweepConfigError,
  bestAlphaRecipe,
  encodeShareUrl,
  lmEvalCommands,
  lmEvalModelOf,
  parseSweepConfig,
  runSweep,
  validateResultsDocument,
  withoutSamples,
  DEFAULT_SHARE_BASE_URL,
  type SourceRecord,
  type SweepInput,
  type SweepProgress,
  type SweepSample,
  type SweepBackend,
} from '../../engine/sweep/index.ts';
import { UsageError, WEIGHTS_FLAG, type CliIO, type Command } from '../command.ts';
import { openRole, stringFlag } from '../merge-flags.ts';
import { nativeRuntime, ortProviderFromEnv, weightsFlag } from '../model-flags.ts';
import { NativeSweepBackend } from '../native-sweep-backend.ts';
import { openPythonSandbox } from '../python-sandbox.ts';
import { loadTaskItems } from '../task-items.ts';
import { checkOutputFile, openJsonLinesFile, writeBytesAtomically, writeTextAtomically } from '../write-json-atomically.ts';

/**
 * `studio sweep`: accuracy against α for a donor pair and a target, per task and condition, with
 * the control vector and the donors alone beside it (src/engine/sweep). Writes the results
 * document the page's share URL carries (plus `samples` when asked), and optionally the plot
 * (the page's chart) and the share URL itself.
 */
export const sweep: Command = {
  usage: 'studio sweep --config sweep.json --out results.json [--plot plot.svg|plot.png] [--share-url] [--base-url URL] [--samples samples.jsonl] [--weights float|q4]',
  flags: {
    config: { type: 'string', help: 'sweep.json: sources, alphas, tasks (limit, seed, conditions, chat, data), generation, controls; paths relative to its folder' },
    out: { type: 'string', help: 'results.json: the sweep results document (what the share URL carries)' },
    plot: { type: 'string', help: 'plot.svg or plot.png: accuracy against α, drawn by the page\'s chart' },
    'share-url': { type: 'boolean', help: 'print the share URL that reopens the plot in the page' },
    'base-url': { type: 'string', help: `the studio's address for --share-url (default ${DEFAULT_SHARE_BASE_URL})` },
    samples: { type: 'string', help: 'samples.jsonl: one line per item, series and α (also kept in results.json as "samples")' },
    ...WEIGHTS_FLAG,
  },
  async run(args, io) {
    const configPath = stringFlag(args, 'config', true);
    const outPath = stringFlag(args, 'out', true);
    const plotPath = stringFlag(args, 'plot');
    const samplesPath = stringFlag(args, 'samples');
    const shareUrl = args.flags.has('share-url');
    const baseUrl = stringFlag(args, 'base-url');
    if (baseUrl !== undefined && !shareUrl) throw new UsageError('--base-url is the address --share-url uses; add --share-url.');
    if (baseUrl !== undefined && !URL.canParse(baseUrl)) throw new UsageError(`--base-url must be an absolute URL like ${DEFAULT_SHARE_BASE_URL}, got "${baseUrl}".`);
    const weights = weightsFlag(args, ortProviderFromEnv());
    const format = plotPath ? (await import('../sweep-plot.ts')).plotFormat(plotPath) : undefined;
    await checkOutputFile(outPath);
    if (samplesPath) await checkOutputFile(samplesPath, '--samples');
    if (plotPath) await checkOutputFile(plotPath, '--plot');

    const config = parseSweepConfig(await readConfig(configPath), configPath);
    const base = dirname(resolve(configPath));
    // Local paths in sweep.json are relative to its folder (hf: sources are not paths).
    const local = (spec: string) => (parseSourceSpec(spec).kind === 'local' && !isAbsolute(spec) ? join(base, spec) : spec);
    const absoluteSource = (s: SourceRecord): SourceRecord => ({ ...s, spec: local(s.spec) });

    // Items first: a bad file or dataset is refused before any model is read.
    const tasks: SweepInput['tasks'] = [];
    for (const t of config.tasks) {
      const loaded = await loadTaskItems(t.task, t.data === undefined ? undefined : local(t.data), t.selection);
      tasks.push({
        task: t.task,
        items: loaded.items,
        conditions: t.conditions,
        selection: { mode: t.selection.mode, count: t.limit, seed: t.seed },
        data: { source: loaded.source, revision: loaded.revision, rows: loaded.originalSize },
      });
    }

    const started = performance.now();
    const roles = ['sft', 'rl', 'target'] as const;
    const opened = await Promise.all(roles.map((r) => openRole(local(config.sources[r]))));
    const [sft, rl, target] = opened.map((o) => o.ckpt);
    const record = (i: number): SourceRecord => {
      const rev = opened[i].ckpt.source.revision;
      return { spec: config.sources[roles[i]], revision: rev && /^[0-9a-f]{40}$/.test(rev) ? rev : null };
    };
    const input: SweepInput = {
      sources: { sft: record(0), rl: record(1), target: record(2) },
      alphas: config.alphas,
      tasks,
      generation: config.generation,
      controls: config.controls,
    };

    // onnxruntime-node with each point streamed into the model cache (native-sweep-backend.ts);
    // STUDIO_ORT_PROVIDER=wasm: the host backend on onnxruntime-web (small models only).
    const native = ortProviderFromEnv() === 'cpu';
    const runtime = native ? await nativeRuntime() : new OrtRuntime({ ort: (await import('onnxruntime-web')) as unknown as Ort, provider: 'wasm' });
    let backend: SweepBackend | undefined;
    let sandbox: { runProgram: RunProgram; dispose(): void } | undefined;
    const samplesOut = samplesPath ? await openJsonLinesFile<SweepSample>(samplesPath) : undefined;
    try {
      if (tasks.some((t) => t.task.name === 'humaneval')) sandbox = await openPythonSandbox(io);
      const tokenizer = await StudioTokenizer.load(target);
      const specs = { sft: local(config.sources.sft), rl: local(config.sources.rl), target: local(config.sources.target) };
      backend = native
        ? await NativeSweepBackend.open({ trio: { sft, rl, target }, specs, runtime, tokenizer, vocabPolicy: config.vocabPolicy, controlSeed: config.controls.randomVectorSeed, log: io.stderr, weights })
        : await HostSweepBackend.open({ trio: { sft, rl, target }, runtime, tokenizer, vocabPolicy: config.vocabPolicy, controlSeed: config.controls.randomVectorSeed });
      const doc = await runSweep(backend, input, {
        runProgram: sandbox?.runProgram,
        samples: samplesPath !== undefined,
        onProgress: progressLine(io),
        onItem: (item) => {
          if (item.sample) samplesOut?.write(item.sample);
        },
      });
      if (doc.runtime) doc.runtime.seconds = Math.round((performance.now() - started) / 10) / 100;
      // What we write is what the page accepts: checked by the same validation.
      validateResultsDocument(doc, { origin: outPath, allowSamples: true });
      await writeTextAtomically(outPath, [JSON.stringify(doc, null, 2) + '\n']);
      await samplesOut?.commit();

      const summary: Record<string, unknown> = { out: outPath, points: doc.points.length };
      if (plotPath) {
        const plot = await import('../sweep-plot.ts');
        const svg = await plot.renderPlotSvg(doc, `Accuracy against α — target ${doc.sources.target.spec}`);
        const bytes = format === 'png' ? await plot.renderPlotPng(svg) : new TextEncoder().encode(svg);
        await writeBytesAtomically(plotPath, bytes);
        summary.plot = plotPath;
      }
      // The recipe and the lm_eval lines are run from wherever the user is, not from sweep.json's
      // folder: local sources as absolute paths (as `studio merge` writes them), Hub ids as they are.
      // results.json keeps the specs as sweep.json gives them (what the share URL carries).
      const atHere = { ...withoutSamples(doc), sources: { sft: absoluteSource(doc.sources.sft), rl: absoluteSource(doc.sources.rl), target: absoluteSource(doc.sources.target) } };
      // The recipe writes the target's dtype, as `studio merge` does by default.
      const targetDtype = target.tensors.values().next().value?.dtype;
      const recipe = bestAlphaRecipe(atHere, targetDtype && isSupportedDtype(targetDtype) ? targetDtype : 'BF16');
      if (recipe) {
        summary.best_alpha = recipe.alpha;
        summary.mergekit_yaml = recipe.yaml;
        io.stderr(`best α = ${recipe.alpha} (mean of each task's first metric over the v series)`);
      }
      // At scale: the target as the baseline, and the merge the recipe builds (`mergekit-yaml … ./merged`).
      const commandsFor = (model: { pretrained: string; revision?: string | null }, outputPath: string) =>
        Object.fromEntries((['hf', 'vllm'] as const).map((backend) => [backend, lmEvalCommands(atHere, model, { backend, outputPath }).commands.map((c) => c.command)]));
      const skipped = lmEvalCommands(atHere, lmEvalModelOf(atHere.sources.target), { backend: 'hf' }).skipped;
      summary.lm_eval = {
        target: commandsFor(lmEvalModelOf(atHere.sources.target), 'lm-eval-results/target'),
        ...(recipe ? { merged: commandsFor({ pretrained: './merged' }, `lm-eval-results/alpha-${recipe.alpha}`) } : {}),
        skipped,
      };
      for (const s of skipped) io.stderr(`lm_eval: ${s.task} left out: ${s.reason}.`);
      if (shareUrl) {
        const url = await encodeShareUrl(doc, baseUrl ?? DEFAULT_SHARE_BASE_URL);
        // stdout stays one JSON document (the summary, which holds share_url); people read stderr.
        summary.share_url = url;
        io.stderr(`share URL (${url.length} characters): ${url}`);
      }
      io.stdout(JSON.stringify(summary));
    } catch (e) {
      await samplesOut?.abort();
      throw e;
    } finally {
      sandbox?.dispose();
      await backend?.dispose();
      await runtime.dispose();
    }
  },
};

async function readConfig(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--config ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (e as Error).message})`}.`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SweepConfigError(path, undefined, `is not valid JSON (${(e as Error).message}).`);
  }
}

/** Items/s and ETA on stderr, at most once a second and at the end. */
function progressLine(io: CliIO) {
  let last = 0;
  return (p: SweepProgress) => {
    const now = performance.now();
    if (p.done < p.total && now - last < 1000) return;
    last = now;
    const at = p.alpha === null ? `${p.series} alone` : `${p.series} α=${p.alpha}`;
    const eta = p.etaSeconds !== null && p.done < p.total ? `, ETA ${Math.ceil(p.etaSeconds)} s` : '';
    io.stderr(`sweep: ${p.done}/${p.total} items (${at}, ${p.task} ${p.condition}), ${p.itemsPerSecond.toFixed(1)} items/s${eta}`);
  };
}


