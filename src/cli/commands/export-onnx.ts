import { planMerge } from '../../engine/merge/merge-plan.ts';
import { nodeOutputFolder } from '../../engine/merge/output/node-output-folder.ts';
import type { TensorMerger } from '../../engine/merge/tensor-merger.ts';
import { decoderSpec } from '../../engine/model/decoder-graph.ts';
import { checkpointTensors } from '../../engine/model/weights.ts';
import { EXPORT_FORMULA, exportOnnxFolder, exportTensors, ONNX_EXPORT_DTYPES, onnxDataLayout, type OnnxExportDtype } from '../../engine/export/onnx-folder.ts';
import { MODEL_FLAGS, UsageError, type Command } from '../command.ts';
import { alphaFlag, mergerFor, openRole, stringFlag, vocabPolicyFlag } from '../merge-flags.ts';
import { progressPrinter } from '../merge-output.ts';

/**
 * `studio export-onnx`: θ(α) (or one checkpoint) as a transformers.js / Optimum-style folder —
 * onnx/model.onnx (or model_fp16.onnx) with its weights as external data, config.json,
 * generation_config.json and the tokenizer files — for running the merged model elsewhere
 * (engine/export/onnx-folder.ts says what is in it and why).
 */

const DTYPES: Record<string, OnnxExportDtype> = { f32: 'fp32', fp32: 'fp32', f16: 'fp16', fp16: 'fp16' };

export const exportOnnx: Command = {
  usage: 'studio export-onnx --model <src> | --sft <src> --rl <src> --target <src> --alpha <a>  --out <dir> [--dtype f32|f16] [--max-data-file <size>] [--vocab-policy refuse|overlap] [--device auto|gpu|cpu]',
  flags: {
    ...MODEL_FLAGS,
    out: { type: 'string', help: 'the folder to write (must not exist or be empty)' },
    dtype: { type: 'string', help: 'f32|f16 — the ONNX model\'s weights and compute (default f32; f16 writes onnx/model_fp16.onnx)' },
    'max-data-file': { type: 'string', help: 'the largest external data file, e.g. 2GB, 500MB or bytes (default 2147483647: above it browsers cannot load a chunk); larger weights are split into model.onnx_data, model.onnx_data_1, …' },
  },
  async run(args, io) {
    const rawDtype = stringFlag(args, 'dtype') ?? 'f32';
    const dtype = DTYPES[rawDtype.toLowerCase()];
    if (!dtype) throw new UsageError(`--dtype must be f32 or f16 (ONNX exports ${ONNX_EXPORT_DTYPES.join(', ')}), got "${rawDtype}".`);
    const maxDataFileBytes = byteSizeFlag(stringFlag(args, 'max-data-file'));
    const outDir = stringFlag(args, 'out', true);
    const single = stringFlag(args, 'model');
    const mergeFlags = ['sft', 'rl', 'target', 'alpha'].filter((f) => args.flags.has(f));
    if (single && mergeFlags.length) throw new UsageError('give either --model <src> or the merge flags --sft --rl --target --alpha, not both.');
    if (!single && mergeFlags.length === 0) throw new UsageError('--model <src> or the merge flags --sft --rl --target --alpha are required.');
    const vocabPolicy = vocabPolicyFlag(args);
    const alpha = single ? 0 : alphaFlag(args);

    // Everything a user can get wrong is refused before the output folder exists.
    let tensors;
    let ckpt;
    let spec;
    let sources: Record<string, string>;
    if (single) {
      ckpt = (await openRole(single)).ckpt;
      spec = decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label);
      tensors = checkpointTensors(ckpt, spec);
      sources = { model: single };
    } else {
      const specs = (['sft', 'rl', 'target'] as const).map((r) => stringFlag(args, r, true));
      const [sft, rl, target] = await Promise.all(specs.map((s) => openRole(s)));
      ckpt = target.ckpt;
      const plan = planMerge({ sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt }, { mode: 'merge', outDtype: 'F32', vocabPolicy });
      plan.notes.forEach((n) => io.stderr(`note: ${n}`));
      spec = decoderSpec(ckpt.config, shapesOf(ckpt), ckpt.source.label);
      tensors = exportTensors({ plan }, spec);
      sources = { sft: sft.ref, rl: rl.ref, target: target.ref };
    }
    // Data files transformers.js could not load (too many for --max-data-file) are refused here too.
    onnxDataLayout(tensors, dtype, maxDataFileBytes);
    const out = await nodeOutputFolder(outDir);
    let merger: TensorMerger | undefined;
    try {
      if (!single) merger = await mergerFor(args, io);
    } catch (e) {
      await out.abort();
      throw e;
    }
    try {
      const report = await exportOnnxFolder({
        ckpt,
        spec,
        tensors,
        merger,
        alpha,
        dtype,
        out,
        maxDataFileBytes,
        provenance: { ...sources, ...(single ? {} : { alpha, formula: EXPORT_FORMULA }) },
        onProgress: progressPrinter(),
      });
      for (const t of report.nonFinite) io.stderr(`warning: ${t.tensor}: ${t.nan} NaN and ${t.inf} Inf values in the output.`);
      for (const n of report.notes) io.stderr(`note: ${n}`);
      io.stdout(
        JSON.stringify({
          out: outDir,
          ...(single ? {} : { alpha }),
          dtype,
          merger: merger?.kind ?? null,
          files: report.files,
          dataBytes: report.dataBytes,
          dataFiles: report.dataFiles,
          seconds: Number(report.seconds.toFixed(3)),
          nonFinite: report.nonFinite,
          notes: report.notes,
        }),
      );
    } finally {
      merger?.destroy();
    }
  },
};

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** `--max-data-file`: bytes, or a number with KB/MB/GB (decimal) or KiB/MiB/GiB. Above 2 GB is allowed (Node loads any size; the export notes that browsers cannot). */
export function byteSizeFlag(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 4096)) throw new UsageError(`--max-data-file must be a size of at least 4096 bytes, e.g. 2GB, 500MB or 1000000; got "${raw}".`);
  return bytes;
}

function shapesOf(c: { tensors: Map<string, { shape: number[] }> }): Map<string, number[]> {
  return new Map([...c.tensors].map(([n, t]) => [n, t.shape]));
}
