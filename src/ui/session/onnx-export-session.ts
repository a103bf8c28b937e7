import { EXPORT_FORMULA, exportOnnxFolder, exportTensors, ONNX_SUBFOLDER, type OnnxExportDtype } from '../../engine/export/onnx-folder.ts';
import { nestedOutputFolder } from '../../engine/export/nested-output-folder.ts';
import { modelReference } from '../../engine/merge/export-files.ts';
import { checkAlpha } from '../../engine/merge/merge-checkpoints.ts';
import { planMerge } from '../../engine/merge/merge-plan.ts';
import { fsAccessOutputFolder } from '../../engine/merge/output/fs-access-output-folder.ts';
import { decoderSpec } from '../../engine/model/decoder-graph.ts';
import { useStudio } from '../store.ts';
import { alphaName, destination, listing, onProgress, runJob, trio } from './merge-session.ts';

/**
 * "Export ONNX": θ(α) as a transformers.js folder (engine/export/onnx-folder.ts) — run as one of
 * the merge panel's jobs (one at a time, progress, Cancel), written where the other exports go:
 * a folder the user picks, else the origin-private file system's exports folder, with a link per
 * file and "Download all (.zip)" (onnx/… kept as a folder in the archive).
 */
export function saveOnnxExport(dtype: OnnxExportDtype): Promise<void> {
  return runJob('onnx', async (merger, signal) => {
    const state = useStudio.getState();
    const alpha = checkAlpha(state.merge.alpha);
    const t = trio();
    // Refuse what cannot be exported (shapes, vocabulary, an architecture the graph lacks) before asking for a folder.
    const plan = planMerge(t, { mode: 'merge', outDtype: 'F32', vocabPolicy: state.merge.vocabPolicy });
    const spec = decoderSpec(t.target.config, new Map([...t.target.tensors].map(([n, x]) => [n, x.shape])), t.target.source.label);
    const tensors = exportTensors({ plan }, spec);
    const { out: root, links, parent } = await destination(`onnx-alpha-${alphaName(alpha)}${dtype === 'fp16' ? '-fp16' : ''}`);
    const out = nestedOutputFolder(root, { [ONNX_SUBFOLDER]: await fsAccessOutputFolder(root.dir, ONNX_SUBFOLDER) });
    const report = await exportOnnxFolder({
      ckpt: t.target,
      spec,
      tensors,
      merger,
      alpha,
      dtype,
      out,
      provenance: { sft: modelReference(t.sft), rl: modelReference(t.rl), target: modelReference(t.target), alpha, formula: EXPORT_FORMULA },
      signal,
      onProgress,
    });
    return {
      message: `Exported the merged model (α = ${alpha}, ${dtype}) for transformers.js to "${root.label}": ${report.files.length} files in ${report.seconds.toFixed(2)} s.`,
      notes: [...plan.notes, ...report.notes, ...report.nonFinite.map((x) => `${x.tensor}: ${x.nan} NaN and ${x.inf} Inf values in the output.`)],
      files: await listing(root.dir, report.files, links, parent, root.label),
    };
  });
}
