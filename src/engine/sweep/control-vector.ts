/**
 * The control of a sweep (the paper's sanity check): a random vector with the same per-tensor L2
 * norm as v, swept over the same α grid. If θ_target + α·control moves accuracy as much as
 * θ_target + α·v does, the gain is any perturbation's, not the reasoning vector's.
 *
 * Per tensor: standard normal draws from a generator seeded by (seed, tensor name) — so a
 * tensor's control does not depend on which other tensors exist or their order — scaled in
 * float64 to ‖v_tensor‖₂ and stored as float32. A tensor where v is all zero gets a zero control.
 */

/** Fills `out` with the control for one tensor whose vector part is `v`; returns its L2 norm. */
export function controlTensor(seed: number, tensor: string, v: Float32Array, out: Float32Array = new Float32Array(v.length)): Float32Array {
  if (out.length !== v.length) throw new RangeError(`control for ${tensor}: ${out.length} elements for a vector of ${v.length}`);
  let vNorm2 = 0;
  for (let i = 0; i < v.length; i++) vNorm2 += v[i] * v[i];
  const normal = gaussian(streamSeed(seed, tensor));
  const draws = new Float64Array(v.length);
  let gNorm2 = 0;
  for (let i = 0; i < draws.length; i++) {
    draws[i] = normal();
    gNorm2 += draws[i] * draws[i];
  }
  if (!(vNorm2 > 0 && gNorm2 > 0)) return out.fill(0);
  const scale = Math.sqrt(vNorm2 / gNorm2);
  for (let i = 0; i < draws.length; i++) out[i] = draws[i] * scale;
  return out;
}

/** FNV-1a over the tensor name's UTF-16 units, mixed with the seed: one 32-bit stream per tensor. */
export function streamSeed(seed: number, tensor: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < tensor.length; i++) {
    h ^= tensor.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Standard normal draws (Box–Muller) from mulberry32: the same numbers in every JavaScript engine. */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - uniform(); // (0, 1]: log(0) never happens
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}
