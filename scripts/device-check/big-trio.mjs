// Device check helper: copies a tiny fixture trio and adds one large random bf16 tensor to each,
// so the merge runs many 8M-element chunks. Usage: node big-trio.mjs <fixtures/models> <out> <elements>
import { cpSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
const [src, out, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
for (const [role, seed] of [['sft', 1], ['rl', 2], ['target', 3]]) {
  const from = join(src, `tiny-qwen2-${role}`), to = join(out, role);
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
  const file = readFileSync(join(from, 'model.safetensors'));
  const hlen = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + hlen).toString());
  const data = file.subarray(8 + hlen);
  const end = data.length;
  header['big.weight'] = { dtype: 'BF16', shape: [n], data_offsets: [end, end + 2 * n] };
  const big = new Uint16Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) { x = (x * 1664525 + 1013904223) >>> 0; big[i] = 0x3c00 + (x >>> 22) - 512 + ((x & 1) << 15); }
  const h = Buffer.from(JSON.stringify(header));
  const pad = (8 - (h.length % 8)) % 8;
  const hb = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(join(to, 'model.safetensors'), Buffer.concat([len, hb, data, Buffer.from(big.buffer)]));
}
