import type { Command } from '../command.ts';
import { MODEL_FLAGS, WEIGHTS_FLAG, UsageError } from '../command.ts';
import { stringFlag } from '../merge-flags.ts';
import { idsFlag, intFlag, numberFlag, openModelForRun } from '../model-flags.ts';

export const generate: Command = {
  usage:
    'studio generate --model <src> | --sft <src> --rl <src> --target <src> --alpha <a>  (--ids 1,2,3 | --prompt "…" [--chat]) --max-new-tokens N [--temperature T --top-p P --seed S] [--stop "…"] [--weights float|q4]',
  flags: {
    ...MODEL_FLAGS,
    ...WEIGHTS_FLAG,
    ids: { type: 'string', help: 'comma-separated prompt token ids (no tokenizer files needed)' },
    prompt: { type: 'string', help: 'prompt text (needs the checkpoint\'s tokenizer files)' },
    chat: { type: 'boolean', help: 'wrap --prompt in the model\'s chat template' },
    'max-new-tokens': { type: 'string', help: 'how many tokens to generate at most' },
    temperature: { type: 'string', help: '0 = greedy (default); > 0 samples' },
    'top-p': { type: 'string', help: 'nucleus sampling mass in (0, 1] (default 1)' },
    seed: { type: 'string', help: 'sampling seed (default 0)' },
    stop: { type: 'string', help: 'stop when the generated text contains this string' },
  },
  async run(args, io) {
    const ids = idsFlag(args);
    const prompt = stringFlag(args, 'prompt');
    if ((ids ? 1 : 0) + (prompt !== undefined ? 1 : 0) !== 1) throw new UsageError('give exactly one of --ids 1,2,3 or --prompt "…".');
    // Token ids go to the model as they are; a chat template is text, so it can only wrap --prompt.
    if (ids && args.flags.has('chat')) throw new UsageError('--chat applies the model\'s chat template to --prompt text, not to token ids; drop --chat, or give --prompt "…" instead of --ids.');
    const maxNewTokens = intFlag(args, 'max-new-tokens', undefined, 1);
    const temperature = numberFlag(args, 'temperature', 0, (v) => v >= 0, 'a number ≥ 0');
    const topP = numberFlag(args, 'top-p', 1, (v) => v > 0 && v <= 1, 'in (0, 1]');
    const seed = intFlag(args, 'seed', 0);
    const stop = stringFlag(args, 'stop');
    if (stop === '') throw new UsageError('--stop needs a non-empty string.');
    const m = await openModelForRun(args, io);
    try {
      // Token ids need no tokenizer files; a prompt, stop strings and text do.
      const needTokenizer = prompt !== undefined || stop !== undefined || m.ckpt.files.some((f) => f.path === 'tokenizer.json');
      const tok = needTokenizer ? await m.tokenizer() : undefined;
      let input = ids;
      if (prompt !== undefined) {
        // A chat template writes its own special tokens; a plain prompt gets the tokenizer's (e.g. BOS).
        input = args.flags.has('chat') ? tok!.encode(tok!.applyChatTemplate([{ role: 'user', content: prompt }])) : tok!.encode(prompt, true);
      }
      const [row] = await m.model.generate([input!], {
        maxNewTokens,
        eosTokenIds: tok?.eosTokenIds ?? m.ckpt.config.eosTokenIds,
        temperature,
        topP,
        seed,
        stopStrings: stop !== undefined ? [stop] : undefined,
        decode: tok ? (x) => tok.decode(x) : undefined,
      });
      // Last line: {ids, text} — the new tokens and their text (null without tokenizer files).
      io.stdout(JSON.stringify({ ids: row.ids, text: row.text ?? null, prompt_ids: input, finish_reason: row.finishReason }));
    } finally {
      await m.dispose();
    }
  },
};
