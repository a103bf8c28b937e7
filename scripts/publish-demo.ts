// Copies the demo trio (demo-arith-*: a vector that carries a+b mod 10, see
// scripts/fixtures/demo-arithmetic.ts) from fixtures/models into public/demo/ with a manifest.json
// per model, so the studio serves its embedded default itself ("Load the demo trio"). The plain
// tiny-qwen2 trio is published beside it for the browser test harnesses.
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEMO = ['demo-arith-sft', 'demo-arith-rl', 'demo-arith-target', 'tiny-qwen2-sft', 'tiny-qwen2-rl', 'tiny-qwen2-target'];
const out = join(root, 'public', 'demo');
rmSync(out, { recursive: true, force: true });
for (const name of DEMO) {
  const from = join(root, 'fixtures', 'models', name);
  const to = join(out, name);
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true });
  const files = readdirSync(to)
    .sort()
    .map((path) => ({ path, size: statSync(join(to, path)).size }));
  writeFileSync(join(to, 'manifest.json'), JSON.stringify({ files }, null, 2) + '\n');
}
console.log(`demo trio published to ${out}`);
