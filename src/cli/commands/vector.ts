import { saveVector } from '../../engine/merge/merge-checkpoints.ts';
import { planMerge } from '../../engine/merge/merge-plan.ts';
import { nodeOutputFolder } from '../../engine/merge/output/node-output-folder.ts';
import { PAIR_FLAGS, type Command } from '../command.ts';
import { dtypeFlag, mergerFor, openRole, stringFlag, vocabPolicyFlag } from '../merge-flags.ts';
import { printMergeSummary, progressPrinter } from '../merge-output.ts';

export const vector: Command = {
  usage: 'studio vector --sft <src> --rl <src> --out <dir> [--dtype f32|bf16|f16] [--device auto|gpu|cpu]',
  flags: {
    ...PAIR_FLAGS,
    out: { type: 'string', help: 'the folder to write (must not exist or be empty)' },
    dtype: { type: 'string', help: 'f32|bf16|f16 — output dtype (default f32, exact)' },
  },
  async run(args, io) {
    const outDtype = dtypeFlag(args);
    const vocabPolicy = vocabPolicyFlag(args);
    const outDir = stringFlag(args, 'out', true);
    const [sft, rl] = await Promise.all(['sft', 'rl'].map((r) => openRole(stringFlag(args, r, true), r)));
    // Refuse bad input (shapes, an occupied --out) before anything is created.
    const plan = planMerge({ sft: sft.ckpt, rl: rl.ckpt }, { mode: 'vector', outDtype, vocabPolicy });
    const out = await nodeOutputFolder(outDir);
    const merger = await mergerFor(args, io).catch(async (e) => {
      await out.abort();
      throw e;
    });
    try {
      const { report } = await saveVector(
        { sft: sft.ckpt, rl: rl.ckpt },
        { sft: sft.ref, rl: rl.ref },
        { plan, merger, out, outDtype, onPlan: (p) => p.notes.forEach((n) => io.stderr(`note: ${n}`)), onProgress: progressPrinter() },
      );
      printMergeSummary(io, { out: outDir, merger: merger.kind, plan, report });
    } finally {
      merger.destroy();
    }
  },
};
