import codecSource from '../../../shaders/common/float-codec.wgsl?raw';
import loadSource from '../../../shaders/common/load-inputs.wgsl?raw';
import shaderSource from '../../../shaders/task-vector-merge.wgsl?raw';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { packStruct, wgslStructLayout } from '../gpu/wgsl-struct-layout.ts';

/** Wraps shaders/task-vector-merge.wgsl: owns its pipeline, one per device. */

export const DTYPE_CODE: Record<SupportedDtype, number> = { F32: 0, F16: 1, BF16: 2 };
const WORKGROUP_SIZE = 256;
const PARAMS = wgslStructLayout(shaderSource, 'Params');

type Entry = 'main' | 'resident';
const pipelines = new WeakMap<GPUDevice, Map<Entry, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, entryPoint: Entry): GPUComputePipeline {
  let byEntry = pipelines.get(device);
  if (!byEntry) pipelines.set(device, (byEntry = new Map()));
  let p = byEntry.get(entryPoint);
  if (!p) {
    const module = device.createShaderModule({ label: 'task-vector-merge.wgsl', code: codecSource + loadSource + shaderSource });
    p = device.createComputePipeline({ label: `task-vector-merge ${entryPoint}`, layout: 'auto', compute: { module, entryPoint } });
    byEntry.set(entryPoint, p);
  }
  return p;
}

export interface MergeDispatch {
  /** Label of the tensor (and chunk) for validation messages. */
  label: string;
  count: number;
  alpha: number;
  /** resident: out = target + α·v with v already in `rl` (sft unused). */
  mode: 'merge' | 'vector' | 'resident';
  dtypes: { target: SupportedDtype; sft: SupportedDtype; rl: SupportedDtype; out: SupportedDtype };
  /** Whole buffers, or ranges (offsets aligned to minStorageBufferOffsetAlignment) for chunks of a resident tensor. */
  target: GPUBuffer | GPUBufferBinding;
  sft: GPUBuffer | GPUBufferBinding;
  rl: GPUBuffer | GPUBufferBinding;
  out: GPUBuffer | GPUBufferBinding;
  /** Two u32 counters (NaN, Inf), accumulated across dispatches. */
  nonFinite: GPUBuffer;
  params: GPUBuffer;
  /** Byte offset into `params` (several dispatches in one submit each need their own slot). */
  paramsOffset?: number;
}

/** Size of the uniform buffer `params` must have. */
export const MERGE_PARAMS_BYTES = PARAMS.size;

/** Encodes one merge dispatch over `count` elements; pairs of elements per invocation. */
export function encodeMerge(device: GPUDevice, encoder: GPUCommandEncoder, d: MergeDispatch): void {
  const pairs = Math.ceil(d.count / 2);
  const groups = Math.ceil(pairs / WORKGROUP_SIZE);
  const maxX = device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, maxX);
  const y = Math.ceil(groups / x);
  device.queue.writeBuffer(
    d.params,
    d.paramsOffset ?? 0,
    packStruct(PARAMS, {
      count: d.count,
      alpha: d.alpha,
      target_dtype: DTYPE_CODE[d.dtypes.target],
      sft_dtype: DTYPE_CODE[d.dtypes.sft],
      rl_dtype: DTYPE_CODE[d.dtypes.rl],
      out_dtype: DTYPE_CODE[d.dtypes.out],
      mode: d.mode === 'vector' ? 1 : 0,
      row_pitch: x * WORKGROUP_SIZE,
    }),
  );
  const pipeline = pipelineFor(device, d.mode === 'resident' ? 'resident' : 'main');
  const bind = device.createBindGroup({
    label: `merge ${d.label}`,
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: d.params, offset: d.paramsOffset ?? 0, size: MERGE_PARAMS_BYTES } },
      ...[d.target, d.sft, d.rl, d.out, d.nonFinite].map((b, i) => ({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } })),
    ],
  });
  const pass = encoder.beginComputePass({ label: `merge ${d.label}` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(x, y);
  pass.end();
}
