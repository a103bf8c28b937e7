import type { ModelConfig } from '../checkpoint/model-config.ts';
import { isSupportedDtype, type SupportedDtype } from '../safetensors/dtypes.ts';

/**
 * The one rule set for "can this trio merge, and what will the merge do": a pure function over
 * the checkpoints' headers and the vocab policy. The page's verdict (checkpoint/compatibility.ts,
 * from the slots' summaries) and the plan the executors run (merge-plan.ts, from the opened
 * checkpoints) are both read off its answer. They used to be two functions and disagreed: a
 * resized vocabulary was "Incompatible … must be fixed" in the verdict while the page merged it
 * under the overlap policy.
 */

export type Role = 'sft' | 'rl' | 'target';
export const ROLES: readonly Role[] = ['sft', 'rl', 'target'];
export const ROLE_LABEL: Record<Role, string> = { sft: 'SFT donor', rl: 'RL donor', target: 'target' };

export type MergeMode = 'merge' | 'vector';

/**
 * What to do when the donors' and the target's vocabularies differ in size (embed_tokens and
 * lm_head have different row counts, every other shape equal):
 * - `refuse` (default): stop, naming the tensor and the three shapes;
 * - `overlap`: merge the rows all three have (token ids 0 … min−1) and copy the target's other
 *   rows unchanged; the output keeps the target's shape (a vector keeps the shared rows only).
 *   Right when the extra rows are padding or added special tokens, as with Qwen2.5 checkpoints
 *   resized from 151,665 to 151,936 rows.
 */
export type VocabPolicy = 'refuse' | 'overlap';
export const VOCAB_POLICIES: readonly VocabPolicy[] = ['refuse', 'overlap'];

/** What choosing a policy does, as a refusal that suggests it says it. */
export function vocabPolicyEffect(policy: VocabPolicy, mode: MergeMode): string {
  if (policy === 'refuse') return 'stop whenever the vocabularies differ in size';
  return mode === 'merge' ? "merge the rows all three share and keep the target's other rows" : 'keep the rows both donors share in the vector';
}

/** The config facts that must agree: a difference means a different architecture size. */
const STRUCTURE_FIELDS = ['hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim'] as const;

export interface TensorHeader {
  name: string;
  dtype: string;
  shape: number[];
  /** Shard file; with `byteOffset` it orders the output as the target stores it. */
  file: string;
  byteOffset?: number;
}

/** What the rules read from one checkpoint: plain data, from an opened Checkpoint or the page's summary. */
export interface CheckpointHeaders {
  label: string;
  architecture: string;
  /** No `lm_head.weight` stored: the head is the embedding matrix. */
  tiedHead: boolean;
  config: Pick<ModelConfig, (typeof STRUCTURE_FIELDS)[number] | 'vocabSize' | 'ropeTheta'>;
  tensors: readonly TensorHeader[];
}

/** One output tensor, as the merge will write it. */
export interface TensorDecision {
  name: string;
  /** merge: every element receives α·v; overlap: the leading rows do, the rest are the target's; keep: the target's tensor unchanged. */
  action: 'merge' | 'overlap' | 'keep';
  shape: number[];
  dtype: SupportedDtype;
  /** Leading elements that receive α·v (merge) or are the vector; the rest are copied from the target. */
  mergedElements: number;
  /** The stored tensor read for each role (a tied head reads `model.embed_tokens.weight`). */
  from: Partial<Record<Role, string>>;
}

export type Severity = 'error' | 'warning' | 'info';

export interface VerdictItem {
  severity: Severity;
  code:
    | 'no-target'
    | 'architecture'
    | 'config-mismatch'
    | 'rope-theta'
    | 'dtype'
    | 'shape-mismatch'
    | 'vocab-mismatch'
    | 'missing-in-donors'
    | 'missing-in-target'
    | 'missing-in-pair'
    | 'nothing-shared'
    | 'tied-head'
    | 'dtype-mix';
  tensor?: string;
  message: string;
  shapes?: Partial<Record<Role, number[] | null>>;
  /** config-mismatch: the field's value in each checkpoint. */
  values?: Partial<Record<Role, number>>;
  /** An error another vocab policy resolves: that policy. */
  allowedBy?: VocabPolicy;
}

export interface Verdict {
  /** No error: the merge (or vector) runs as `tensors` says. */
  ok: boolean;
  status: 'compatible' | 'compatible-with-warnings' | 'incompatible';
  headline: string;
  mode: MergeMode;
  /** The vocab policy this verdict was reached under. */
  policy: VocabPolicy;
  /** When refused: another vocab policy under which these same rules accept the trio. */
  allowedBy?: VocabPolicy;
  /** Output tensors that receive α·v (or are the vector), wholly or in part. */
  mergedTensors: number;
  /** Output tensors copied from the target unchanged. */
  keptTensors: number;
  outputDtypes: SupportedDtype[];
  items: VerdictItem[];
}

export interface MergeDecision {
  /** Every output tensor in output order; complete only when `verdict.ok`. */
  tensors: TensorDecision[];
  verdict: Verdict;
}

export interface DecideOptions {
  mode: MergeMode;
  /** Output dtype; default the target's dtype per tensor (merge) or F32 (vector: exact differences). */
  outDtype?: SupportedDtype;
  vocabPolicy?: VocabPolicy;
}

export interface Trio<C> {
  sft: C;
  rl: C;
  /** Needed for a merge; a vector of the donor pair has none. */
  target?: C;
}

export const EMBED = 'model.embed_tokens.weight';
export const HEAD = 'lm_head.weight';

export function decideMerge(trio: Trio<CheckpointHeaders>, options: DecideOptions): MergeDecision {
  const policy = options.vocabPolicy ?? 'refuse';
  const { tensors, items } = applyRules(trio, options.mode, policy, options.outDtype);
  const errors = items.filter((i) => i.severity === 'error').length;
  // Which policy would allow a refused trio is asked of these same rules, not guessed.
  const allowedBy = errors ? VOCAB_POLICIES.find((p) => p !== policy && !applyRules(trio, options.mode, p, options.outDtype).items.some((i) => i.severity === 'error')) : undefined;
  const merged = tensors.filter((t) => t.mergedElements > 0).length;
  const kept = tensors.filter((t) => t.action === 'keep').length;
  const warnings = items.filter((i) => i.severity === 'warning').length;
  const status = errors ? 'incompatible' : warnings ? 'compatible-with-warnings' : 'compatible';
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const what = options.mode === 'merge' ? 'merging' : 'saving the vector';
  const headline = errors
    ? allowedBy
      ? `Incompatible under the vocab policy "${policy}" (${plural(errors, 'problem')}); "${allowedBy}" would allow ${what}.`
      : `Incompatible: ${plural(errors, 'problem')} must be fixed before ${what}.`
    : `Compatible: ${merged} tensors ${options.mode === 'merge' ? 'receive α·v' : 'in the vector'}${kept ? `, ${kept} kept from the target` : ''}${
        warnings ? ` (${plural(warnings, 'warning')})` : ''
      }.`;
  const outputDtypes = [...new Set(tensors.map((t) => t.dtype))].sort();
  return {
    tensors,
    verdict: { ok: errors === 0, status, headline, mode: options.mode, policy, allowedBy, mergedTensors: merged, keptTensors: kept, outputDtypes, items },
  };
}

const NOT_SAME_SIZE = 'the checkpoints are not the same architecture size.';

/**
 * Errors a refusal spells out; the rest are counted. Two checkpoints of different sizes differ in
 * every config field and every tensor: one sentence each made a 4,500-character line of ~30
 * repeats (`studio vector` on a 128-wide and a 16-wide donor), where the first few say it all.
 */
export const REFUSAL_LISTED = 3;

/**
 * A refusal as one line per door: each error (up to REFUSAL_LISTED, then how many more), and for
 * one a vocab policy resolves, how to pick that policy (`choose` names the control: a CLI flag, a
 * menu in the page). `labels` names the checkpoints (the CLI's sources) when the errors are about
 * architecture size: which checkpoints disagree is read off the errors' per-role values.
 */
export function refusalMessage(v: Verdict, choose: (p: VocabPolicy) => string = (p) => `the vocab policy "${p}"`, labels?: Partial<Record<Role, string>>): string {
  const errors = v.items.filter((i) => i.severity === 'error');
  const hint = v.allowedBy ? ` Choose ${choose(v.allowedBy)} to ${vocabPolicyEffect(v.allowedBy, v.mode)}.` : '';
  if (errors.length <= REFUSAL_LISTED) return errors.map((i) => i.message).join(' ') + hint;
  const size = errors.filter((i) => i.code === 'config-mismatch' || i.code === 'shape-mismatch');
  const listed = errors.slice(0, REFUSAL_LISTED).map((i) => i.message.replace(`; ${NOT_SAME_SIZE}`, '').replace(/\.$/, ''));
  const more = `${listed.join('; ')}; and ${errors.length - REFUSAL_LISTED} more`;
  if (size.length === 0) return `${errors.length} problems: ${more}.${hint}`;
  return `${sizeCulprits(size, v.mode, labels)} (${errors.length} problems: ${more}). Use checkpoints of one architecture size: a donor pair fine-tuned from one base${v.mode === 'merge' ? ', and a target of that size' : ''}.${hint}`;
}

/** "the SFT donor (a) and the RL donor (b) are not the same architecture size", or the one checkpoint of three that differs. */
function sizeCulprits(items: VerdictItem[], mode: MergeMode, labels: Partial<Record<Role, string>> | undefined): string {
  const roles: Role[] = mode === 'merge' ? ['sft', 'rl', 'target'] : ['sft', 'rl'];
  const name = (r: Role) => `the ${ROLE_LABEL[r]}${labels?.[r] ? ` (${labels[r]})` : ''}`;
  const names = (rs: Role[]) => (rs.length === 1 ? name(rs[0]) : `${rs.slice(0, -1).map(name).join(', ')} and ${name(rs.at(-1)!)}`);
  // Per error, the roles outside the largest group of equal values; over all errors, their union.
  const odd = new Set<Role>();
  for (const i of items) {
    const per = i.values ?? i.shapes;
    if (!per) continue;
    const groups = new Map<string, Role[]>();
    for (const r of roles) groups.set(JSON.stringify(per[r]), [...(groups.get(JSON.stringify(per[r])) ?? []), r]);
    const largest = Math.max(...[...groups.values()].map((g) => g.length));
    for (const g of groups.values()) if (largest === 1 || g.length < largest) g.forEach((r) => odd.add(r));
  }
  if (odd.size === 1 && roles.length === 3) {
    const [r] = [...odd];
    return `${name(r)} is not the same architecture size as ${names(roles.filter((x) => x !== r))}`;
  }
  return `${names(roles)} are not the same architecture size`;
}

interface Logical {
  /** The stored tensor (a tied head is `model.embed_tokens.weight`). */
  stored: TensorHeader;
  shape: number[];
  dtype: string;
}

/** Tensor name → stored tensor, with a tied head exposed as lm_head.weight → embed_tokens. */
function logical(c: CheckpointHeaders): Map<string, Logical> {
  const m = new Map<string, Logical>();
  for (const t of c.tensors) m.set(t.name, { stored: t, shape: t.shape, dtype: t.dtype });
  const embed = m.get(EMBED);
  if (c.tiedHead && embed && !m.has(HEAD)) m.set(HEAD, embed);
  return m;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const fmt = (s: number[]) => `[${s.join(', ')}]`;
const same = (shapes: number[][]) => shapes.every((x) => x.length === shapes[0].length && x.every((d, i) => d === shapes[0][i]));

function applyRules(trio: Trio<CheckpointHeaders>, mode: MergeMode, policy: VocabPolicy, outDtype: SupportedDtype | undefined): { tensors: TensorDecision[]; items: VerdictItem[] } {
  const items: VerdictItem[] = [];
  const tensors: TensorDecision[] = [];
  const { sft, rl, target } = trio;
  if (mode === 'merge' && !target) {
    items.push({ severity: 'error', code: 'no-target', message: 'a merge needs a target checkpoint.' });
    return { tensors, items };
  }
  const roles: Role[] = target ? ['sft', 'rl', 'target'] : ['sft', 'rl'];
  const ck = (r: Role) => trio[r]!;
  const each = <T>(f: (c: CheckpointHeaders) => T) => roles.map((r) => f(ck(r)));
  const list = <T>(values: T[]) => roles.map((r, i) => `${ROLE_LABEL[r]} ${values[i]}`).join(', ');

  const archs = each((c) => c.architecture);
  if (new Set(archs).size > 1) {
    items.push({ severity: 'error', code: 'architecture', message: `Architectures differ: ${list(archs)}. Task arithmetic needs one architecture.` });
  }
  for (const field of STRUCTURE_FIELDS) {
    const values = each((c) => c.config[field]);
    if (new Set(values).size > 1) {
      items.push({ severity: 'error', code: 'config-mismatch', values: Object.fromEntries(roles.map((r, i) => [r, values[i]])), message: `config ${field} differs: ${list(values)}; ${NOT_SAME_SIZE}` });
    }
  }
  const thetas = each((c) => c.config.ropeTheta);
  if (new Set(thetas).size > 1) {
    items.push({ severity: 'warning', code: 'rope-theta', message: `rope theta differs (${list(thetas)}); the merged model uses the ${target ? "target's" : "SFT donor's"}.` });
  }

  const maps = { sft: logical(sft), rl: logical(rl), target: target ? logical(target) : undefined };
  // Output tensors: the target's stored tensors in file order (merge), or the SFT donor's (vector).
  const base = target ?? sft;
  const order = base.tensors
    .map((t, i) => ({ t, i }))
    .sort((a, b) => (a.t.file === b.t.file ? (a.t.byteOffset ?? 0) - (b.t.byteOffset ?? 0) || a.i - b.i : a.t.file < b.t.file ? -1 : 1))
    .map(({ t }) => t.name);
  if (!target && sft.tiedHead !== rl.tiedHead && maps.sft.get(HEAD)?.stored.name === EMBED) {
    // An untied RL donor has a head the tied SFT donor only has as its embedding: the vector keeps it.
    order.push(HEAD);
  }

  const refusedDtype = new Set<string>();
  const unsupported = (r: Role, x: Logical): boolean => {
    if (isSupportedDtype(x.dtype)) return false;
    // A tied head reads the embedding again: one refusal per stored tensor.
    const key = `${r}/${x.stored.name}`;
    if (refusedDtype.has(key)) return true;
    refusedDtype.add(key);
    items.push({
      severity: 'error',
      code: 'dtype',
      tensor: x.stored.name,
      message: `${ck(r).label}: tensor "${x.stored.name}" has dtype ${x.dtype}; the studio merges BF16, F16 and F32 only. Use an unquantised checkpoint (or convert it to bf16/f16/f32 first).`,
    });
    return true;
  };

  let refusedVocab = false;
  let vocabMismatch = false;
  for (const name of order) {
    const t = maps.target?.get(name);
    const s = maps.sft.get(name);
    const r = maps.rl.get(name);
    const shapes = { sft: s?.shape ?? null, rl: r?.shape ?? null, ...(target ? { target: t?.shape ?? null } : {}) };
    if (!s || !r) {
      const where = !s && !r ? 'in neither donor' : !s ? 'only in the RL donor' : 'only in the SFT donor';
      if (!t) {
        items.push({ severity: 'warning', code: 'missing-in-pair', tensor: name, shapes, message: `${name} is ${where}; the vector leaves it out.` });
        continue;
      }
      items.push({
        severity: 'warning',
        code: !s && !r ? 'missing-in-donors' : 'missing-in-pair',
        tensor: name,
        shapes,
        message: `${name} is ${where}; the target's tensor is kept unchanged.`,
      });
      if (unsupported('target', t)) continue;
      tensors.push({ name, action: 'keep', shape: [...t.shape], dtype: outDtype ?? (t.dtype as SupportedDtype), mergedElements: 0, from: { target: t.stored.name } });
      continue;
    }
    const inputs: Array<[Role, Logical]> = [['sft', s], ['rl', r], ...(t ? [['target', t] as [Role, Logical]] : [])];
    if (inputs.map(([role, x]) => unsupported(role, x)).some(Boolean)) continue;
    const all = inputs.map(([, x]) => x.shape);
    const outShape = [...(t?.shape ?? s.shape)];
    const from = { sft: s.stored.name, rl: r.stored.name, ...(t ? { target: t.stored.name } : {}) };
    const dtype = outDtype ?? (t ? (t.dtype as SupportedDtype) : 'F32');
    if (same(all)) {
      tensors.push({ name, action: 'merge', shape: outShape, dtype, mergedElements: count(outShape), from });
      continue;
    }
    const desc = `SFT ${fmt(s.shape)}, RL ${fmt(r.shape)}${t ? `, target ${fmt(t.shape)}` : ''}`;
    const isVocab = (name === EMBED || name === HEAD) && all.every((x) => x.length === 2 && x[1] === all[0][1]);
    if (!isVocab) {
      items.push({ severity: 'error', code: 'shape-mismatch', tensor: name, shapes, message: `tensor "${name}" shapes differ: ${desc}; ${NOT_SAME_SIZE}` });
      continue;
    }
    vocabMismatch = true;
    if (policy === 'refuse') {
      refusedVocab = true;
      items.push({ severity: 'error', code: 'vocab-mismatch', tensor: name, shapes, allowedBy: 'overlap', message: `tensor "${name}" shapes differ: ${desc} (vocabulary sizes differ).` });
      continue;
    }
    const rows = Math.min(...all.map((x) => x[0]));
    const message = t
      ? `${name}: vocab policy "overlap": rows 0…${rows - 1} merged, ${outShape[0] - rows} row(s) of the target kept (${desc}).`
      : `${name}: vocab policy "overlap": rows 0…${rows - 1} in the vector, the donors' other rows left out (${desc}).`;
    items.push({ severity: 'warning', code: 'vocab-mismatch', tensor: name, shapes, message });
    if (!t) outShape.splice(0, 1, rows);
    tensors.push({ name, action: 'overlap', shape: outShape, dtype, mergedElements: rows * all[0][1], from });
  }

  if (!vocabMismatch) {
    const vocabs = each((c) => c.config.vocabSize);
    if (new Set(vocabs).size > 1) {
      items.push({ severity: 'warning', code: 'config-mismatch', message: `config vocabSize differs (${list(vocabs)}) though the embedding shapes agree; the merged model uses the ${target ? "target's" : "SFT donor's"} config.` });
    }
  }

  if (maps.target) {
    for (const name of [...new Set([...maps.sft.keys(), ...maps.rl.keys()])].sort()) {
      if (maps.target.has(name)) continue;
      const both = maps.sft.has(name) && maps.rl.has(name);
      items.push({
        severity: 'warning',
        code: 'missing-in-target',
        tensor: name,
        shapes: { sft: maps.sft.get(name)?.shape ?? null, rl: maps.rl.get(name)?.shape ?? null, target: null },
        message: both ? `${name} is in the donors but not the target; its vector is ignored.` : `${name} is in one donor and not the target; it is ignored.`,
      });
    }
  } else {
    for (const name of [...maps.rl.keys()].sort()) {
      if (!maps.sft.has(name)) items.push({ severity: 'warning', code: 'missing-in-pair', tensor: name, shapes: { sft: null, rl: maps.rl.get(name)!.shape }, message: `${name} is only in the RL donor; the vector leaves it out.` });
    }
  }

  const tied = each((c) => c.tiedHead);
  if (new Set(tied).size > 1) {
    const desc = list(tied.map((x) => (x ? 'tied' : 'untied')));
    const message = !target
      ? `Heads differ (${desc}). A tied donor's head is its embed_tokens, so the vector's lm_head is measured against that embedding.`
      : target.tiedHead
        ? `Heads differ (${desc}). The target ties lm_head to embed_tokens, so the merged head follows embed_tokens' vector; the donors' lm_head difference is not used.`
        : `Heads differ (${desc}). A tied donor's head is its embed_tokens, so the target's lm_head receives that donor's embedding difference.`;
    items.push({ severity: 'warning', code: 'tied-head', tensor: HEAD, message });
  }

  const dtypes = each((c) => [...new Set(c.tensors.map((t) => t.dtype))].sort().join('+'));
  if (new Set(dtypes).size > 1) {
    const writes = outDtype ?? (target ? "the target's dtype" : 'F32');
    items.push({ severity: 'info', code: 'dtype-mix', message: `Dtypes differ (${list(dtypes)}); the merge computes in float32 and writes ${writes}.` });
  }

  // A refused vocabulary row may be all the trio shares: then the policy, not the trio, is at fault.
  if (!refusedVocab && !tensors.some((t) => t.mergedElements > 0)) {
    items.push({
      severity: 'error',
      code: 'nothing-shared',
      message: `no tensor is shared by ${target ? 'the donors and the target' : 'both donors'}; check that the checkpoints belong together.`,
    });
  }
  return { tensors, items };
}
