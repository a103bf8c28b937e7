/** Token choice from one row of logits: greedy, or temperature + top-p sampling with a seeded PRNG. */

export interface SamplingOptions {
  /** 0 or absent: greedy (argmax, lowest id on ties). */
  temperature?: number;
  /** Nucleus sampling mass (0, 1]; default 1. */
  topP?: number;
  seed?: number;
}

/** mulberry32: small, fast, deterministic across platforms. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function pickToken(row: Float32Array, o: SamplingOptions, random: () => number): number {
  const temperature = o.temperature ?? 0;
  if (!(temperature > 0)) return argmax(row);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const probs = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += probs[i] = Math.exp((row[i] - max) / temperature);
  const topP = o.topP ?? 1;
  if (topP >= 1) return sampleFrom(probs, sum, null, random);
  // Nucleus: the most probable tokens until their mass reaches top-p. Sorting only the tokens within
  // 1e-12 of the best keeps this fast on a 150k vocabulary; the full sort is the fallback.
  let order = Array.from(probs.keys()).filter((i) => probs[i] >= 1e-12);
  if (order.reduce((a, i) => a + probs[i], 0) / sum < topP) order = Array.from(probs.keys());
  order.sort((a, b) => probs[b] - probs[a] || a - b);
  let kept = 0;
  let mass = 0;
  for (const i of order) {
    mass += probs[i];
    kept++;
    if (mass / sum >= topP) break;
  }
  return sampleFrom(probs, mass, order.slice(0, kept), random);
}

/** One draw from `probs` (restricted to `among` when given) whose weights add up to `total`. */
function sampleFrom(probs: Float64Array, total: number, among: number[] | null, random: () => number): number {
  let r = random() * total;
  const ids = among ?? probs.keys();
  let last = 0;
  for (const i of ids) {
    last = i;
    r -= probs[i];
    if (r <= 0) return i;
  }
  return last;
}
