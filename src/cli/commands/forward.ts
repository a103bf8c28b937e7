import type { Command } from '../command.ts';
import { MODEL_FLAGS, WEIGHTS_FLAG, UsageError } from '../command.ts';
import { stringFlag } from '../merge-flags.ts';
import { idsFlag, openModelForRun } from '../model-flags.ts';
import { checkOutputFile, writeTextAtomically } from '../write-json-atomically.ts';

export const forward: Command = {
  usage: 'studio forward --model <src> | --sft <src> --rl <src> --target <src> --alpha <a>  --ids 1,2,3 --out logits.json [--weights float|q4]',
  flags: {
    ...MODEL_FLAGS,
    ...WEIGHTS_FLAG,
    ids: { type: 'string', help: 'comma-separated token ids (no tokenizer files needed)' },
    out: { type: 'string', help: 'where to write {"shape":[T,V],"data":[…]} (float32 logits, every position)' },
  },
  async run(args, io) {
    const ids = idsFlag(args);
    if (!ids) throw new UsageError('--ids is required (comma-separated token ids).');
    const outPath = stringFlag(args, 'out', true);
    await checkOutputFile(outPath); // before the model is built
    const m = await openModelForRun(args, io);
    try {
      const { dims, data } = await m.model.forward([ids]);
      // {"shape":[T,V],"data":[...]}: float32 logits of every position, row-major, written in pieces.
      function* pieces() {
        yield `{"shape":[${dims[1]},${dims[2]}],"data":[`;
        for (let i = 0; i < data.length; i += 65536) yield (i ? ',' : '') + Array.from(data.subarray(i, i + 65536), (x) => String(x)).join(',');
        yield ']}\n';
      }
      await writeTextAtomically(outPath, pieces());
      io.stdout(JSON.stringify({ out: outPath, shape: [dims[1], dims[2]] }));
    } finally {
      await m.dispose();
    }
  },
};
