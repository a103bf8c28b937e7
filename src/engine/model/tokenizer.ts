import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import { CheckpointLayoutError } from '../errors.ts';
import { readText } from '../sources/source.ts';

/**
 * The checkpoint's own tokenizer (tokenizer.json + tokenizer_config.json through Hugging Face's
 * JS tokenizers) and chat template (@huggingface/jinja). EOS ids come from generation_config.json
 * (which may list several), else config.json, else the tokenizer's eos_token.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export class StudioTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    private readonly config: Record<string, unknown>,
    private readonly template: Template | undefined,
    readonly eosTokenIds: number[],
  ) {}

  static async load(ckpt: Checkpoint): Promise<StudioTokenizer> {
    const label = ckpt.source.label;
    const read = async (name: string) => {
      if (!ckpt.files.some((f) => f.path === name)) return undefined;
      const text = await readText(await ckpt.source.open(name));
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new CheckpointLayoutError(label, name, `is not valid JSON (${(e as Error).message}).`);
      }
    };
    const json = await read('tokenizer.json');
    if (!json) throw new CheckpointLayoutError(label, 'tokenizer.json', 'is missing; prompts need the checkpoint\'s tokenizer (token ids work without it).');
    const config = (await read('tokenizer_config.json')) ?? {};
    const generation = (await read('generation_config.json')) ?? {};
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (e) {
      throw new CheckpointLayoutError(label, 'tokenizer.json', `could not be loaded (${(e as Error).message}).`);
    }
    const templateSource = typeof config.chat_template === 'string' ? config.chat_template : undefined;
    const ids = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : typeof v === 'number' ? [v] : []);
    let eos = ids(generation.eos_token_id);
    if (!eos.length) eos = ckpt.config.eosTokenIds;
    if (!eos.length && typeof config.eos_token === 'string') {
      const id = tok.token_to_id(config.eos_token);
      if (id !== undefined) eos = [id];
    }
    return new StudioTokenizer(tok, config, templateSource ? new Template(templateSource) : undefined, eos);
  }

  encode(text: string, addSpecialTokens = false): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    return this.tok.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /** The prompt text for a conversation, as the model was trained to see it. */
  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) throw new CheckpointLayoutError('tokenizer', 'tokenizer_config.json', 'has no chat_template; use a plain prompt.');
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenText(this.config.bos_token),
      eos_token: tokenText(this.config.eos_token),
    });
  }
}

/** tokenizer_config.json writes special tokens as strings or, in older files, as AddedToken objects. */
function tokenText(t: unknown): string {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return '';
}
