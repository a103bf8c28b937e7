/** Deterministic values in [-scale, scale) with a spread of magnitudes (mulberry32). */
export function seededWeights(count: number, seed: number, scale = 0.05): Float32Array {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (next() * 2 - 1) * scale * (i % 7 === 0 ? 4 : 1);
  return out;
}
