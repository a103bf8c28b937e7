import codecSource from '../../../shaders/common/float-codec.wgsl?raw';
import loadSource from '../../../shaders/common/load-inputs.wgsl?raw';
import shaderSource from '../../../shaders/vector-stats.wgsl?raw';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { packStruct, wgslStructLayout } from '../gpu/wgsl-struct-layout.ts';
import { DTYPE_CODE } from './task-vector-kernel.ts';
import type { ChunkStats } from './tensor-merger.ts';

/** Wraps shaders/vector-stats.wgsl: owns its pipeline, one per device. */

const WORKGROUP_SIZE = 256;
/** Upper bound on workgroups per dispatch (grid-stride beyond): the readback is ≤ 80 KiB. */
export const MAX_STATS_GROUPS = 4096;
export const STATS_PARTIAL_BYTES = MAX_STATS_GROUPS * 5 * 4;
const PARAMS = wgslStructLayout(shaderSource, 'Params');
export const STATS_PARAMS_BYTES = PARAMS.size;

const pipelines = new WeakMap<GPUDevice, GPUComputePipeline>();

function pipelineFor(device: GPUDevice): GPUComputePipeline {
  let p = pipelines.get(device);
  if (!p) {
    const module = device.createShaderModule({ label: 'vector-stats.wgsl', code: codecSource + loadSource + shaderSource });
    p = device.createComputePipeline({ label: 'vector-stats', layout: 'auto', compute: { module, entryPoint: 'main' } });
    pipelines.set(device, p);
  }
  return p;
}

export interface StatsDispatch {
  label: string;
  count: number;
  nearZero: number;
  dtypes: { target?: SupportedDtype; sft: SupportedDtype; rl: SupportedDtype };
  target: GPUBuffer;
  sft: GPUBuffer;
  rl: GPUBuffer;
  /** At least STATS_PARTIAL_BYTES, STORAGE. */
  partials: GPUBuffer;
  params: GPUBuffer;
}

/** Encodes one statistics dispatch; returns how many workgroups wrote partials. */
export function encodeVectorStats(device: GPUDevice, encoder: GPUCommandEncoder, d: StatsDispatch): number {
  const groups = Math.max(1, Math.min(MAX_STATS_GROUPS, Math.ceil(d.count / WORKGROUP_SIZE)));
  device.queue.writeBuffer(
    d.params,
    0,
    packStruct(PARAMS, {
      count: d.count,
      target_dtype: DTYPE_CODE[d.dtypes.target ?? 'F32'],
      sft_dtype: DTYPE_CODE[d.dtypes.sft],
      rl_dtype: DTYPE_CODE[d.dtypes.rl],
      has_target: d.dtypes.target ? 1 : 0,
      near_zero: d.nearZero,
      stride: groups * WORKGROUP_SIZE,
      _pad: 0,
    }),
  );
  const pipeline = pipelineFor(device);
  const bind = device.createBindGroup({
    label: `stats ${d.label}`,
    layout: pipeline.getBindGroupLayout(0),
    entries: [d.params, d.target, d.sft, d.rl, d.partials].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = encoder.beginComputePass({ label: `stats ${d.label}` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(groups);
  pass.end();
  return groups;
}

/** Adds up the partials the dispatch wrote (float64 on the host). */
export function sumPartials(words: ArrayBuffer, groups: number, count: number): ChunkStats {
  const f = new Float32Array(words);
  const u = new Uint32Array(words);
  const s: ChunkStats = { count, sumV2: 0, sumT2: 0, sumVD: 0, sumD2: 0, nearZero: 0 };
  for (let g = 0; g < groups; g++) {
    const b = g * 5;
    s.sumV2 += f[b];
    s.sumT2 += f[b + 1];
    s.sumVD += f[b + 2];
    s.sumD2 += f[b + 3];
    s.nearZero += u[b + 4];
  }
  return s;
}
