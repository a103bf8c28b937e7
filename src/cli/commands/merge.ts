import { saveMergedModel } from '../../engine/merge/merge-checkpoints.ts';
import { planMerge } from '../../engine/merge/merge-plan.ts';
import { nodeOutputFolder } from '../../engine/merge/output/node-output-folder.ts';
import { MERGE_FLAGS, type Command } from '../command.ts';
import { alphaFlag, dtypeFlag, mergerFor, openRole, stringFlag, vocabPolicyFlag } from '../merge-flags.ts';
import { printMergeSummary, progressPrinter } from '../merge-output.ts';

export const merge: Command = {
  usage: 'studio merge --sft <src> --rl <src> --target <src> --alpha <a> --out <dir> [--dtype bf16|f16|f32] [--vocab-policy refuse|overlap] [--device auto|gpu|cpu]',
  flags: {
    ...MERGE_FLAGS,
    out: { type: 'string', help: 'the folder to write (must not exist or be empty)' },
    dtype: { type: 'string', help: 'bf16|f16|f32 — output dtype (default: the target\'s)' },
  },
  async run(args, io) {
    const alpha = alphaFlag(args);
    const outDtype = dtypeFlag(args);
    const vocabPolicy = vocabPolicyFlag(args);
    const outDir = stringFlag(args, 'out', true);
    const [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map((r) => openRole(stringFlag(args, r, true), r)));
    // Refuse bad input (shapes, vocab, an occupied --out) before anything is created.
    const plan = planMerge({ sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt }, { mode: 'merge', outDtype, vocabPolicy });
    const out = await nodeOutputFolder(outDir);
    const merger = await mergerFor(args, io).catch(async (e) => {
      await out.abort();
      throw e;
    });
    try {
      const { report } = await saveMergedModel(
        { sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt },
        { sft: sft.ref, rl: rl.ref, target: target.ref },
        alpha,
        { plan, merger, out, outDtype, onPlan: (p) => p.notes.forEach((n) => io.stderr(`note: ${n}`)), onProgress: progressPrinter() },
      );
      printMergeSummary(io, { out: outDir, alpha, merger: merger.kind, plan, report });
    } finally {
      merger.destroy();
    }
  },
};
