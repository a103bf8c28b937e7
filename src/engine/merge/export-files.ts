import { stringify } from 'yaml';
import type { Checkpoint } from '../checkpoint/open-checkpoint.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { readText } from '../sources/source.ts';
import type { MergeReport } from './stream-merge.ts';

/** The files written next to merged weights so a Hugging Face user can load the folder as it is. */

const TORCH_DTYPE: Record<SupportedDtype, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };
export const MERGEKIT_FILE = 'mergekit_config.yml';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** How mergekit names a model: `owner/name@revision` for the Hub, the path otherwise. */
export function modelReference(ckpt: Checkpoint, givenAs?: string): string {
  const { source } = ckpt;
  if (source.kind === 'hub') return source.label.replace(/^hf:/, '');
  return givenAs ?? source.label;
}

/**
 * A mergekit recipe for the same merge: `linear`, weights 1, −α, α on target, SFT, RL, no
 * normalisation, computed in float32. mergekit sums the weighted tensors (t·1 + s·(−α) + r·α)
 * where the studio computes t + α·(r − s): equal in exact arithmetic, within float32 rounding.
 */
export function mergekitRecipe(refs: { target: string; sft: string; rl: string }, alpha: number, outDtype: SupportedDtype): string {
  const doc = {
    merge_method: 'linear',
    base_model: refs.target,
    models: [
      { model: refs.target, parameters: { weight: 1 } },
      { model: refs.sft, parameters: { weight: alpha === 0 ? 0 : -alpha } },
      { model: refs.rl, parameters: { weight: alpha } },
    ],
    parameters: { normalize: false },
    dtype: 'float32',
    out_dtype: TORCH_DTYPE[outDtype],
  };
  return (
    `# Reasoning-vector merge θ = θ_target + α·(θ_RL − θ_SFT) with α = ${alpha}, as a mergekit recipe:\n` +
    `#   mergekit-yaml ${MERGEKIT_FILE} ./merged\n` +
    stringify(doc)
  );
}

/** config.json of `ckpt`, its dtype field set to `outDtype` when one was asked for. */
export async function configJsonFor(ckpt: Checkpoint, outDtype?: SupportedDtype): Promise<Uint8Array> {
  const text = await readText(await ckpt.source.open('config.json'));
  if (!outDtype) return utf8(text);
  const raw = JSON.parse(text) as Record<string, unknown>;
  // v4 configs say torch_dtype, v5 say dtype; set whichever the file uses (both if both).
  let set = false;
  for (const key of ['torch_dtype', 'dtype']) {
    if (key in raw) (raw[key] = TORCH_DTYPE[outDtype]), (set = true);
  }
  if (!set) raw.torch_dtype = TORCH_DTYPE[outDtype];
  return utf8(JSON.stringify(raw, null, 2) + '\n');
}

/** tokenizer.json, tokenizer_config.json, generation_config.json … as the checkpoint has them. */
export async function tokenizerFilesOf(ckpt: Checkpoint): Promise<{ name: string; bytes: Uint8Array }[]> {
  const out = [];
  for (const name of ckpt.tokenizerFiles) {
    const f = await ckpt.source.open(name);
    out.push({ name, bytes: await f.read(0, f.size) });
  }
  return out;
}

/** Written next to a vector: where it came from and its statistics. */
export function vectorReportJson(refs: { sft: string; rl: string }, report: MergeReport, dtype: string): Uint8Array {
  return utf8(
    JSON.stringify(
      {
        kind: 'reasoning-vector',
        definition: 'v = θ_RL − θ_SFT, computed in float32',
        sft: refs.sft,
        rl: refs.rl,
        dtype,
        total: report.total,
        tensors: report.tensors.map((t) => ({ name: t.name, ...t.stats, nan: t.nan, inf: t.inf })),
      },
      null,
      2,
    ) + '\n',
  );
}
