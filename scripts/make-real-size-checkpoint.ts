/**
 * npx tsx scripts/make-real-size-checkpoint.ts --size 0.5b|1.5b --out <dir> [--seed N]
 *
 * Writes `<dir>/{sft,rl,target}`: a donor pair and a target with the real Qwen2.5-0.5B-Instruct
 * or Qwen2.5-1.5B-Instruct config and deterministic random bf16 weights, streamed to disk
 * (scripts/bench/real-size-trio.ts says how). Prints the three folders as JSON. A folder already
 * written with the same size and seed is reused.
 */
import { ensureRealSizeTrio, REAL_SIZES, type RealSize } from './bench/real-size-trio.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const size = arg('size');
const out = arg('out');
const seed = Number(arg('seed') ?? 1);
if (!size || !(size in REAL_SIZES) || !out || !Number.isInteger(seed)) {
  console.error('usage: npx tsx scripts/make-real-size-checkpoint.ts --size 0.5b|1.5b --out <dir> [--seed N]');
  process.exit(2);
}
console.log(JSON.stringify(ensureRealSizeTrio(out, size as RealSize, seed, (line) => console.error(line))));
