import * as v from 'valibot';
import { StudioError } from '../errors.ts';

/**
 * The sweep's results document: what `studio sweep --out` writes, what the page's share URL
 * carries (without `samples`) and what the page draws. One schema for all three, so a CLI run
 * and a page run can be compared point by point.
 *
 * Shape (version 1):
 * - `sources`: the three checkpoints as given (`hf:owner/name@rev` or a folder/drop label) with
 *   the commit an `hf:` source resolved to. Never a token (refused below).
 * - `alphas`: the α grid (finite, ascending, no repeats).
 * - `tasks`: per task the conditions it ran under (`plain`, `think`, `+chat`), the item
 *   selection (first-n or a seeded shuffle, with the count and seed) and where the items came
 *   from (`data`: dataset and pinned revision, or a local file, and its row count — the indices
 *   are `selectItems(rows, selection)`, so they are not stored).
 * - `generation`: batch size, max new tokens (null = each task's own), greedy.
 * - `controls`: whether the donors were run alone, and the seed of the control vector (a random
 *   vector with v's per-tensor L2 norm, swept over the same grid; null = no control series).
 * - `points`: one per (series, α, task, condition, metric) with `correct`/`total` and optionally
 *   `verdicts`, the per-item 0/1 bits in selection order (base64url, item i at bit i&7 of byte
 *   i>>3). Series `v` and `control` carry α; the references `sft`, `rl` and `target` (the target
 *   alone, i.e. α = 0) carry `alpha: null`.
 * - `samples` (file only, never in a URL): one entry per item, series and α — the exact prompt
 *   given to the tokenizer, the raw output (or the log-likelihoods), what was extracted and the
 *   verdicts.
 *
 * Validation refuses (ResultsDocumentError, with `reason` and the field's path): another
 * version, a schema violation (types, ranges, unknown keys, inconsistent points), an oversize
 * document and any string outside `samples` that holds markup (`<`, `>`) or control
 * characters. Samples hold model text (chat templates are full of `<|…|>`, code of `<`): the
 * page shows them as text, never as HTML, and they never travel in a URL.
 */

export const RESULTS_FORMAT = 'reasoning-vector-studio/sweep';
export const RESULTS_VERSION = 1;

/**
 * Limits of what a document may hold. They bound what a hostile URL or file can make the page
 * allocate and draw; a real sweep is far below them (a 4-task × 11-α sweep has ~200 points).
 */
export const MAX_ALPHAS = 201;
export const MAX_TASKS = 128;
export const MAX_POINTS = 20_000;
/** Items per task: the largest benchmark here (GSM8K test) has 1,319; room for bigger private sets. */
export const MAX_ITEMS = 1_000_000;
export const MAX_STRING_LENGTH = 2_048;
/**
 * The JSON text of a document without samples. A share URL carries at most 64 KiB of payload
 * (share-url.ts); deflate rarely gains more than 10× on this JSON, so 1 MiB is generous for the
 * real thing and stops an inflation bomb long before it hurts.
 */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** With samples (a file written by `studio sweep --samples`, opened in the page): generations are long. */
export const MAX_DOCUMENT_WITH_SAMPLES_BYTES = 512 * 1024 * 1024;

export const SERIES = ['v', 'control', 'sft', 'rl', 'target'] as const;
export type Series = (typeof SERIES)[number];
export const CONDITION_LABELS = ['plain', 'think', 'plain+chat', 'think+chat'] as const;
export type ConditionLabel = (typeof CONDITION_LABELS)[number];

export type RefusalReason = 'version' | 'schema' | 'oversize' | 'markup' | 'json' | 'compression' | 'token';

/** A results document (a file or a share URL) was refused. Not retryable: the bytes are wrong. */
export class ResultsDocumentError extends StudioError {
  constructor(
    readonly reason: RefusalReason,
    /** The field at fault, as a dotted path (`points.3.correct`), when there is one. */
    readonly path: string | undefined,
    detail: string,
    /** Where the document came from, for the message: a file name or "the share URL". */
    readonly origin = 'the results document',
  ) {
    super(`${origin}: ${path ? `${path}: ` : ''}${detail}`);
  }
}

// ---- schema -------------------------------------------------------------------------------

const text = v.pipe(v.string(), v.maxLength(MAX_STRING_LENGTH));
const count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_ITEMS));
const seed = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff));
const finite = v.pipe(v.number(), v.finite());
const taskName = v.pipe(v.string(), v.regex(/^[a-z0-9_]{1,100}$/, 'a task name is lower-case letters, digits and _'));
const metricKey = v.pipe(v.string(), v.regex(/^[a-z0-9_@]{1,40}(,[a-z0-9_-]{1,40})?$/, 'a metric key looks like "acc" or "exact_match,strict-match"'));
const base64url = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]*$/, 'verdicts are base64url'), v.maxLength(Math.ceil(MAX_ITEMS / 6) + 4));

const SourceSchema = v.strictObject({
  /** As given: `hf:owner/name[@revision]`, a folder, or the page's label for dropped files. */
  spec: v.pipe(text, v.minLength(1)),
  /** The commit an `hf:` source resolved to; null for local sources. */
  revision: v.nullable(v.pipe(v.string(), v.regex(/^[0-9a-f]{40}$/, 'a revision is a 40-hex commit'))),
});

const SelectionSchema = v.strictObject({
  mode: v.picklist(['first-n', 'shuffle']),
  /** Items asked for (null = all). */
  count: v.nullable(v.pipe(count, v.minValue(1))),
  seed: v.nullable(seed),
});

const TaskSchema = v.strictObject({
  task: taskName,
  conditions: v.pipe(v.array(v.picklist(CONDITION_LABELS)), v.minLength(1), v.maxLength(CONDITION_LABELS.length)),
  selection: SelectionSchema,
  data: v.strictObject({
    /** `hf:datasets/owner/name` (config, split) or a local file the CLI read. */
    source: v.pipe(text, v.minLength(1)),
    revision: v.nullable(v.pipe(v.string(), v.regex(/^[0-9a-f]{40}$/, 'a revision is a 40-hex commit'))),
    /** Rows in the dataset split; the items are selectItems(rows, selection). */
    rows: v.pipe(count, v.minValue(1)),
  }),
});

const PointSchema = v.strictObject({
  series: v.picklist(SERIES),
  alpha: v.nullable(finite),
  task: taskName,
  condition: v.picklist(CONDITION_LABELS),
  metric: metricKey,
  correct: count,
  total: v.pipe(count, v.minValue(1)),
  verdicts: v.optional(base64url),
});

const ContinuationSchema = v.strictObject({
  text: v.string(),
  ids: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))),
  loglikelihood: v.number(),
  is_greedy: v.boolean(),
});

const SampleSchema = v.strictObject({
  series: v.picklist(SERIES),
  task: taskName,
  index: count,
  alpha: v.nullable(finite),
  condition: v.picklist(CONDITION_LABELS),
  prompt: v.string(),
  output: v.optional(v.string()),
  context_ids: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0)))),
  continuations: v.optional(v.array(ContinuationSchema)),
  truncated_tokens: v.optional(count),
  extracted: v.record(v.string(), v.string()),
  metrics: v.record(metricKey, v.picklist([0, 1])),
});

export const ResultsDocumentSchema = v.strictObject({
  format: v.literal(RESULTS_FORMAT),
  version: v.literal(RESULTS_VERSION),
  sources: v.strictObject({ sft: SourceSchema, rl: SourceSchema, target: SourceSchema }),
  alphas: v.pipe(v.array(finite), v.minLength(1), v.maxLength(MAX_ALPHAS)),
  tasks: v.pipe(v.array(TaskSchema), v.minLength(1), v.maxLength(MAX_TASKS)),
  generation: v.strictObject({
    batch_size: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096)),
    /** Overrides every generation task's max_gen_toks; null = each task's own. */
    max_new_tokens: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
    greedy: v.literal(true),
  }),
  controls: v.strictObject({
    /** The SFT and RL donors run alone as reference lines. */
    donors: v.boolean(),
    /** Seed of the random control vector (same per-tensor L2 norm as v); null = no control series. */
    random_vector_seed: v.nullable(seed),
  }),
  points: v.pipe(v.array(PointSchema), v.maxLength(MAX_POINTS)),
  /** How the run went: where it ran and how long it took. */
  runtime: v.optional(
    v.strictObject({
      provider: text,
      seconds: v.pipe(v.number(), v.finite(), v.minValue(0)),
    }),
  ),
  samples: v.optional(v.array(SampleSchema)),
});

export type SourceRecord = v.InferOutput<typeof SourceSchema>;
export type SweepTaskRecord = v.InferOutput<typeof TaskSchema>;
export type SweepPoint = v.InferOutput<typeof PointSchema>;
export type SweepSample = v.InferOutput<typeof SampleSchema>;
export type SweepResultsDocument = v.InferOutput<typeof ResultsDocumentSchema>;

// ---- validation ---------------------------------------------------------------------------

/** `<`, `>` or a control character (C0, DEL, C1): nothing a source, task or label needs. */
const MARKUP = /[<>\u0000-\u001f\u007f-\u009f]/;
/**
 * A Hugging Face access token (`hf_` + 34 letters/digits today). A document holds sources as
 * given; one pasted with a token in it must never reach a URL or a file we write.
 */
export const HF_TOKEN_PATTERN = /hf_[A-Za-z0-9]{20,}/;

export interface ValidateOptions {
  /** Where the document came from, for messages ("the share URL", a file name). */
  origin?: string;
  /** Whether `samples` may be present (a file may hold them, a share URL never does). */
  allowSamples?: boolean;
  /** The document's JSON size in bytes, when it was read as text (checked against the limits). */
  byteLength?: number;
}

/**
 * Checks a parsed JSON value and returns it typed, or throws ResultsDocumentError naming the
 * first problem. Order: version first (a newer document gets "made by a newer studio", not a
 * list of schema complaints), then markup and tokens in any string, then the schema, then the
 * cross-field rules (points name a known task, condition and α; counts add up).
 */
export function validateResultsDocument(value: unknown, o: ValidateOptions = {}): SweepResultsDocument {
  const origin = o.origin ?? 'the results document';
  const refuse = (reason: RefusalReason, path: string | undefined, detail: string) => new ResultsDocumentError(reason, path, detail, origin);
  const limit = o.allowSamples ? MAX_DOCUMENT_WITH_SAMPLES_BYTES : MAX_DOCUMENT_BYTES;
  if (o.byteLength !== undefined && o.byteLength > limit) {
    throw refuse('oversize', undefined, `is ${o.byteLength} bytes; the limit is ${limit} bytes${o.allowSamples ? '' : ' (a document without samples)'}.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('schema', undefined, 'is not a JSON object.');
  const rec = value as Record<string, unknown>;
  if (rec.format !== RESULTS_FORMAT) {
    throw refuse('schema', 'format', `is ${JSON.stringify(String(rec.format)).slice(0, 80)}, not "${RESULTS_FORMAT}" — this is not a sweep results document.`);
  }
  if (rec.version !== RESULTS_VERSION) {
    const newer = typeof rec.version === 'number' && rec.version > RESULTS_VERSION;
    throw refuse(
      'version',
      'version',
      `is ${JSON.stringify(rec.version) ?? 'missing'}; this studio reads version ${RESULTS_VERSION}${newer ? ' — the document was made by a newer studio; open it there' : ''}.`,
    );
  }
  if (!o.allowSamples && 'samples' in rec) throw refuse('schema', 'samples', 'is not allowed here (samples travel in results files, never in a share URL).');
  checkStrings(value, '', (path, s) => {
    if (HF_TOKEN_PATTERN.test(s)) return refuse('token', path, 'holds what looks like a Hugging Face access token; tokens never go into results. Remove it and give the token through HF_TOKEN or the settings panel.');
    if (!path.startsWith('samples') && MARKUP.test(s)) return refuse('markup', path, `holds markup or a control character (${describeChar(s.match(MARKUP)![0])}); a results document holds names, not HTML.`);
    return undefined;
  });
  if (!o.allowSamples && o.byteLength === undefined) {
    const size = new TextEncoder().encode(JSON.stringify(value)).length;
    if (size > MAX_DOCUMENT_BYTES) throw refuse('oversize', undefined, `is ${size} bytes of JSON; the limit is ${MAX_DOCUMENT_BYTES} bytes.`);
  }
  const parsed = v.safeParse(ResultsDocumentSchema, value);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw refuse('schema', v.getDotPath(issue) ?? undefined, issueMessage(issue));
  }
  checkConsistency(parsed.output, refuse);
  return parsed.output;
}

/** Parses JSON text and validates it (a file, or a share URL's inflated payload). */
export function parseResultsDocument(json: string, o: ValidateOptions = {}): SweepResultsDocument {
  const byteLength = new TextEncoder().encode(json).length;
  const limit = o.allowSamples ? MAX_DOCUMENT_WITH_SAMPLES_BYTES : MAX_DOCUMENT_BYTES;
  const origin = o.origin ?? 'the results document';
  if (byteLength > limit) throw new ResultsDocumentError('oversize', undefined, `is ${byteLength} bytes; the limit is ${limit} bytes.`, origin);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new ResultsDocumentError('json', undefined, `is not valid JSON (${(e as Error).message}).`, origin);
  }
  return validateResultsDocument(value, { ...o, byteLength });
}

/** The document without `samples`: what a share URL carries. */
export function withoutSamples(doc: SweepResultsDocument): SweepResultsDocument {
  const { samples: _samples, ...rest } = doc;
  return rest;
}

function describeChar(c: string): string {
  return c === '<' || c === '>' ? `"${c}"` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Visits every string (keys included) with its dotted path; stops at the first refusal. */
function checkStrings(value: unknown, path: string, check: (path: string, s: string) => ResultsDocumentError | undefined): void {
  const walk = (x: unknown, p: string): void => {
    if (typeof x === 'string') {
      const e = check(p, x);
      if (e) throw e;
    } else if (Array.isArray(x)) {
      x.forEach((y, i) => walk(y, p ? `${p}.${i}` : String(i)));
    } else if (typeof x === 'object' && x !== null) {
      for (const [k, y] of Object.entries(x)) {
        const kp = p ? `${p}.${k}` : k;
        const e = check(kp, k);
        if (e) throw e;
        walk(y, kp);
      }
    }
  };
  walk(value, path);
}

function issueMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
    // valibot reports an unknown key with the key as the last path item.
    return 'is not a field of this document (unknown key).';
  }
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.input === undefined) return 'is missing.';
  const got = issue.received ? ` (got ${issue.received})` : '';
  return `${issue.message.replace(/^Invalid \w+: /, 'expected ').replace(/ but received .*$/, '')}${got}.`.replace(/\.\.$/, '.');
}

function checkConsistency(doc: SweepResultsDocument, refuse: (r: RefusalReason, path: string | undefined, d: string) => ResultsDocumentError): void {
  for (let i = 1; i < doc.alphas.length; i++) {
    if (!(doc.alphas[i] > doc.alphas[i - 1])) throw refuse('schema', `alphas.${i}`, 'the α grid must be ascending without repeats.');
  }
  const alphas = new Set(doc.alphas);
  const known = new Map<string, number>();
  doc.tasks.forEach((t, i) => {
    if (new Set(t.conditions).size !== t.conditions.length) throw refuse('schema', `tasks.${i}.conditions`, 'lists a condition twice.');
    if (t.selection.mode === 'shuffle' && t.selection.seed === null) throw refuse('schema', `tasks.${i}.selection.seed`, 'a shuffled selection needs its seed.');
    if (t.selection.mode === 'first-n' && t.selection.seed !== null) throw refuse('schema', `tasks.${i}.selection.seed`, 'a first-n selection has no seed (null).');
    for (const c of t.conditions) {
      const key = `${t.task}\u0000${c}`;
      if (known.has(key)) throw refuse('schema', `tasks.${i}`, `repeats task ${t.task} under condition ${c}.`);
      known.set(key, Math.min(t.selection.count ?? t.data.rows, t.data.rows));
    }
  });
  const seen = new Set<string>();
  doc.points.forEach((p, i) => {
    const at = `points.${i}`;
    const items = known.get(`${p.task}\u0000${p.condition}`);
    if (items === undefined) throw refuse('schema', `${at}.task`, `names ${p.task} under ${p.condition}, which the document's tasks do not list.`);
    if (p.series === 'v' || p.series === 'control') {
      if (p.alpha === null || !alphas.has(p.alpha)) throw refuse('schema', `${at}.alpha`, `series ${p.series} needs an α from the grid (got ${p.alpha}).`);
    } else if (p.alpha !== null) {
      throw refuse('schema', `${at}.alpha`, `the reference series ${p.series} has no α (null).`);
    }
    if (p.series === 'control' && doc.controls.random_vector_seed === null) throw refuse('schema', `${at}.series`, 'a control point needs controls.random_vector_seed.');
    if ((p.series === 'sft' || p.series === 'rl') && !doc.controls.donors) throw refuse('schema', `${at}.series`, 'a donor point needs controls.donors: true.');
    if (p.correct > p.total) throw refuse('schema', `${at}.correct`, `${p.correct} correct out of ${p.total}.`);
    if (p.total > items) throw refuse('schema', `${at}.total`, `${p.total} items, but the task's selection has ${items}.`);
    if (p.verdicts !== undefined) {
      const bits = decodeVerdicts(p.verdicts, p.total);
      if (!bits) throw refuse('schema', `${at}.verdicts`, `does not hold ${p.total} verdict bits.`);
      const ones = bits.reduce<number>((a, b) => a + b, 0);
      if (ones !== p.correct) throw refuse('schema', `${at}.verdicts`, `holds ${ones} correct items, but correct is ${p.correct}.`);
    }
    const key = pointKey(p);
    if (seen.has(key)) throw refuse('schema', at, `repeats the point (${p.series}, α ${p.alpha}, ${p.task}, ${p.condition}, ${p.metric}).`);
    seen.add(key);
  });
}

/** Identifies a point (series, α, task, condition, metric). */
export function pointKey(p: Pick<SweepPoint, 'series' | 'alpha' | 'task' | 'condition' | 'metric'>): string {
  return `${p.series}|${p.alpha ?? ''}|${p.task}|${p.condition}|${p.metric}`;
}

// ---- per-item verdict bits ----------------------------------------------------------------

/** Item verdicts (0/1, in selection order) as base64url bits: item i at bit (i & 7) of byte i >> 3. */
export function encodeVerdicts(bits: readonly (0 | 1)[]): string {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) bytes[i >> 3] |= 1 << (i & 7);
  });
  return bytesToBase64url(bytes);
}

/** The bits back, or undefined when the string does not hold exactly `total` of them (padding bits zero). */
export function decodeVerdicts(s: string, total: number): (0 | 1)[] | undefined {
  const bytes = base64urlToBytes(s);
  if (!bytes || bytes.length !== Math.ceil(total / 8)) return undefined;
  const bits: (0 | 1)[] = [];
  for (let i = 0; i < bytes.length * 8; i++) {
    const b = ((bytes[i >> 3] >> (i & 7)) & 1) as 0 | 1;
    if (i < total) bits.push(b);
    else if (b) return undefined;
  }
  return bits;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding (RFC 4648 §5). Written out so Node 20 and every browser agree. */
export function bytesToBase64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64URL[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** The bytes of a base64url string, or undefined when it is not one (bad character or length, non-zero padding bits). */
export function base64urlToBytes(s: string): Uint8Array | undefined {
  if (s.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((s.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    const d = B64URL.indexOf(s[i]);
    if (d < 0) return undefined;
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
