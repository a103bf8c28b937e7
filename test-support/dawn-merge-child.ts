/**
 * Child process for gpu-tensor-merger.node.spec.ts: runs the WGSL merge kernel through Dawn (the
 * `webgpu` package) in Node on the cases given as JSON in argv[2], and prints one line
 * `RESULT <json>` with the output bytes (base64) — before anything can go wrong at exit.
 */
import { nodeGpu } from '../src/cli/node-gpu.ts';
import { GpuTensorMerger } from '../src/engine/merge/gpu-tensor-merger.ts';
import type { SupportedDtype } from '../src/engine/safetensors/dtypes.ts';

interface ChildCase {
  in: SupportedDtype;
  out: SupportedDtype;
  alpha: number;
  count: number;
  target: string;
  sft: string;
  rl: string;
}

const cases = JSON.parse(process.argv[2]) as ChildCase[];
const { device, adapterInfo } = await nodeGpu();
const merger = new GpuTensorMerger(device);
const results: string[] = [];
const b = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
device.pushErrorScope('validation');
for (const c of cases) {
  const res = await merger.mergeChunk({
    target: { dtype: c.in, bytes: b(c.target) },
    sft: { dtype: c.in, bytes: b(c.sft) },
    rl: { dtype: c.in, bytes: b(c.rl) },
    count: c.count,
    alpha: c.alpha,
    outDtype: c.out,
    label: 'node dawn',
  });
  results.push(Buffer.from(res.bytes).toString('base64'));
}
const error = await device.popErrorScope();
process.stdout.write(`RESULT ${JSON.stringify({ adapter: `${adapterInfo.vendor} / ${adapterInfo.architecture}`, results, error: error?.message ?? null })}\n`);
merger.destroy();
process.exit(0);
