import type { CheckpointSummary } from './inspect-checkpoint.ts';

/**
 * The compatibility verdict for a donor pair (SFT, RL) and a target, from headers only.
 * It works on summaries (plain data) so the page can compute it from its store.
 */

export type Role = 'sft' | 'rl' | 'target';
export const ROLES: readonly Role[] = ['sft', 'rl', 'target'];
export const ROLE_LABEL: Record<Role, string> = { sft: 'SFT donor', rl: 'RL donor', target: 'target' };

export type Severity = 'error' | 'warning' | 'info';

export interface VerdictItem {
  severity: Severity;
  code:
    | 'architecture'
    | 'config-mismatch'
    | 'rope-theta'
    | 'shape-mismatch'
    | 'missing-in-donors'
    | 'missing-in-target'
    | 'missing-in-pair'
    | 'tied-head'
    | 'dtype-mix';
  tensor?: string;
  message: string;
  shapes?: Partial<Record<Role, number[] | null>>;
}

export interface Verdict {
  status: 'compatible' | 'compatible-with-warnings' | 'incompatible';
  headline: string;
  /** Tensors that will receive α·v. */
  mergedTensors: number;
  /** Tensors copied from the target unchanged. */
  keptTensors: number;
  outputDtypes: string[];
  items: VerdictItem[];
}

const HEAD = 'lm_head.weight';
const EMBED = 'model.embed_tokens.weight';

interface Logical {
  shape: number[];
  dtype: string;
  /** Stored under a different name (a tied head read from embed_tokens). */
  aliasOf?: string;
}

/** Tensor name → shape/dtype, with a tied head exposed as `lm_head.weight` → embed_tokens. */
function logicalTensors(s: CheckpointSummary): Map<string, Logical> {
  const m = new Map<string, Logical>();
  for (const t of s.tensors) m.set(t.name, { shape: t.shape, dtype: t.dtype });
  const embed = m.get(EMBED);
  if (s.tiedEmbeddings && embed && !m.has(HEAD)) m.set(HEAD, { ...embed, aliasOf: EMBED });
  return m;
}

const CONFIG_FIELDS = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize'] as const;

export function compatibilityVerdict(trio: Record<Role, CheckpointSummary>): Verdict {
  const items: VerdictItem[] = [];
  const { sft, rl, target } = trio;

  const archs = new Set(ROLES.map((r) => trio[r].architecture));
  if (archs.size > 1) {
    items.push({
      severity: 'error',
      code: 'architecture',
      message: `Architectures differ: ${ROLES.map((r) => `${ROLE_LABEL[r]} ${trio[r].architecture}`).join(', ')}. Task arithmetic needs one architecture.`,
    });
  }
  for (const field of CONFIG_FIELDS) {
    const values = ROLES.map((r) => trio[r].config[field]);
    if (new Set(values).size > 1) {
      items.push({
        severity: 'error',
        code: 'config-mismatch',
        message: `config ${field} differs: ${ROLES.map((r, i) => `${ROLE_LABEL[r]} ${values[i]}`).join(', ')}.`,
      });
    }
  }
  const thetas = ROLES.map((r) => trio[r].config.ropeTheta);
  if (new Set(thetas).size > 1) {
    items.push({
      severity: 'warning',
      code: 'rope-theta',
      message: `rope theta differs (${ROLES.map((r, i) => `${ROLE_LABEL[r]} ${thetas[i]}`).join(', ')}); the merged model uses the target's.`,
    });
  }

  const maps = { sft: logicalTensors(sft), rl: logicalTensors(rl), target: logicalTensors(target) };
  const names = [...new Set([...maps.sft.keys(), ...maps.rl.keys(), ...maps.target.keys()])].sort();
  let merged = 0;
  let kept = 0;
  for (const name of names) {
    const [s, r, t] = [maps.sft.get(name), maps.rl.get(name), maps.target.get(name)];
    const shapes = { sft: s?.shape ?? null, rl: r?.shape ?? null, target: t?.shape ?? null };
    if (!t) {
      items.push({ severity: 'warning', code: 'missing-in-target', tensor: name, shapes, message: `${name} is in the donors but not the target; its vector is ignored.` });
      continue;
    }
    if (!s || !r) {
      const where = !s && !r ? 'in neither donor' : !s ? 'only in the RL donor' : 'only in the SFT donor';
      items.push({
        severity: 'warning',
        code: !s && !r ? 'missing-in-donors' : 'missing-in-pair',
        tensor: name,
        shapes,
        message: `${name} is ${where}; the target's tensor is kept unchanged.`,
      });
      kept++;
      continue;
    }
    const present = [s, r, t];
    if (new Set(present.map((x) => JSON.stringify(x.shape))).size > 1) {
      items.push({
        severity: 'error',
        code: 'shape-mismatch',
        tensor: name,
        shapes,
        message: `${name} shapes differ: SFT ${fmt(s.shape)}, RL ${fmt(r.shape)}, target ${fmt(t.shape)}${
          name === EMBED || name === HEAD ? ' (a resized vocabulary)' : ''
        }.`,
      });
      continue;
    }
    // A tied target stores no head: its embed_tokens merge already covers it.
    if (!t.aliasOf) merged++;
  }

  const tied = ROLES.map((r) => trio[r].tiedEmbeddings);
  if (new Set(tied).size > 1) {
    const desc = ROLES.map((r, i) => `${ROLE_LABEL[r]} ${tied[i] ? 'tied' : 'untied'}`).join(', ');
    const message = target.tiedEmbeddings
      ? `Heads differ (${desc}). The target ties lm_head to embed_tokens, so the merged head follows embed_tokens' vector; the donors' lm_head difference is not used.`
      : `Heads differ (${desc}). A tied donor's head is its embed_tokens, so the target's lm_head receives that donor's embedding difference.`;
    items.push({ severity: 'warning', code: 'tied-head', tensor: HEAD, message });
  }

  const dtypes = ROLES.map((r) => Object.keys(trio[r].dtypes).sort().join('+'));
  if (new Set(dtypes).size > 1) {
    items.push({
      severity: 'info',
      code: 'dtype-mix',
      message: `Dtypes differ (${ROLES.map((r, i) => `${ROLE_LABEL[r]} ${dtypes[i]}`).join(', ')}); the merge computes in float32 and writes the target's dtype.`,
    });
  }

  const errors = items.filter((i) => i.severity === 'error').length;
  const warnings = items.filter((i) => i.severity === 'warning').length;
  const status = errors > 0 ? 'incompatible' : warnings > 0 ? 'compatible-with-warnings' : 'compatible';
  const headline =
    status === 'incompatible'
      ? `Incompatible: ${errors} problem${errors === 1 ? '' : 's'} must be fixed before merging.`
      : `Compatible: ${merged} tensors receive α·v${kept ? `, ${kept} kept from the target` : ''}${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}.`;
  return { status, headline, mergedTensors: merged, keptTensors: kept, outputDtypes: Object.keys(target.dtypes).sort(), items };
}

function fmt(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}
