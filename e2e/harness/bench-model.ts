// Benchmark harness page for `npm run bench:model`: the WebGPU EP on merged GPU buffers.
import * as ort from 'onnxruntime-web/webgpu';
import { openCheckpoint } from '../../src/engine/checkpoint/open-checkpoint.ts';
import { requestGpu } from '../../src/engine/gpu/request-device.ts';
import type { Ort } from '../../src/engine/model/ort-runtime.ts';
import { httpFolderSource } from '../../src/engine/sources/http-folder-source.ts';
import { benchModel } from '../../scripts/bench/model-bench.ts';

(window as unknown as { runModelBench: unknown }).runModelBench = async (bases: Record<'sft' | 'rl' | 'target', string>, o: { promptTokens: number; decodeTokens: number; batches: number[] }) => {
  const { device, adapterInfo } = await requestGpu();
  const open = async (b: string) => openCheckpoint(await httpFolderSource(`${b}/`, b));
  const [sft, rl, target] = await Promise.all([bases.sft, bases.rl, bases.target].map(open));
  const result = await benchModel({ sft, rl, target }, ort as unknown as Ort, device, o);
  return { adapter: [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' / '), ...result };
};
document.getElementById('status')!.textContent = 'ready';
