// Root-cause check: one CLI-sized merge on Dawn with a forced GC every 2 ms, with the GPU object
// from create() held (argv[2] = keep) or dropped (drop, as node-gpu.ts did before).
import { create, globals } from 'webgpu';
import { deviceFor } from '../src/engine/gpu/request-device.ts';
import { GpuTensorMerger } from '../src/engine/merge/gpu-tensor-merger.ts';
import { openRole } from '../src/cli/merge-flags.ts';
import { saveMergedModel } from '../src/engine/merge/merge-checkpoints.ts';
import { nodeOutputFolder } from '../src/engine/merge/output/node-output-folder.ts';
Object.assign(globalThis, globals);
const keep = process.argv[2] === 'keep';
const fx = process.cwd() + '/' + (process.argv[3] ?? 'fixtures/models/tiny-qwen2-');
const [sft, rl, target] = await Promise.all(['sft', 'rl', 'target'].map((n) => openRole(fx + n)));
setInterval(() => (globalThis as any).gc(), 2);
let gpu: GPU | undefined = create([]);
const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' }))!;
if (keep) (globalThis as any).__gpu = gpu;
gpu = undefined;
const { device } = await deviceFor(adapter);
const merger = new GpuTensorMerger(device);
const out = await nodeOutputFolder(`/tmp/repro-out-${process.pid}`);
const { report } = await saveMergedModel({ sft: sft.ckpt, rl: rl.ckpt, target: target.ckpt }, { sft: sft.ref, rl: rl.ref, target: target.ref }, 0.5, { merger, out });
console.log(`repro ${keep ? 'keep' : 'drop'}: ${report.tensors.length} tensors merged`);
merger.destroy();
process.exit(0);
