import { writeFile } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { stringFlag } from '../merge-flags.ts';
import { idsFlag, openModelForRun } from '../model-flags.ts';

export const forward: Command = {
  usage: 'studio forward --model <src> | --sft <src> --rl <src> --target <src> --alpha <a>  --ids 1,2,3 --out logits.json',
  async run(args, io) {
    const ids = idsFlag(args);
    if (!ids) throw new UsageError('--ids is required (comma-separated token ids).');
    const outPath = stringFlag(args, 'out', true);
    const m = await openModelForRun(args, io);
    try {
      const { dims, data } = await m.model.forward([ids]);
      // {"shape":[T,V],"data":[...]}: float32 logits of every position, row-major.
      const parts: string[] = [];
      for (let i = 0; i < data.length; i += 65536) parts.push(Array.from(data.subarray(i, i + 65536), (x) => String(x)).join(','));
      await writeFile(outPath, `{"shape":[${dims[1]},${dims[2]}],"data":[${parts.join(',')}]}\n`);
      io.stdout(JSON.stringify({ out: outPath, shape: [dims[1], dims[2]] }));
    } finally {
      await m.dispose();
    }
  },
};
