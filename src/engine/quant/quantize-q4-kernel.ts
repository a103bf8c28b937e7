import codecSource from '../../../shaders/common/float-codec.wgsl?raw';
import shaderSource from '../../../shaders/quantize-q4.wgsl?raw';
import { packStruct, wgslStructLayout } from '../gpu/wgsl-struct-layout.ts';
import { DTYPE_CODE } from '../merge/task-vector-kernel.ts';
import type { SupportedDtype } from '../safetensors/dtypes.ts';
import { q4Layout, type Q4Layout, type Q4Weights } from './q4-quantize.ts';

/**
 * Wraps shaders/quantize-q4.wgsl: θ(α)'s linear weights, as the merge left them in a GPU buffer,
 * into MatMulNBits' packed codes, scales and zero points — bit for bit what quantizeQ4 (the CPU
 * reference, q4-quantize.ts) writes. Owns its pipeline, one per device.
 */

const WORKGROUP_SIZE = 64;
const PARAMS = wgslStructLayout(shaderSource, 'Params');
export const Q4_PARAMS_BYTES = PARAMS.size;

const pipelines = new WeakMap<GPUDevice, GPUComputePipeline>();

function pipelineFor(device: GPUDevice): GPUComputePipeline {
  let p = pipelines.get(device);
  if (!p) {
    const module = device.createShaderModule({ label: 'quantize-q4.wgsl', code: codecSource + shaderSource });
    p = device.createComputePipeline({ label: 'quantize-q4', layout: 'auto', compute: { module, entryPoint: 'main' } });
    pipelines.set(device, p);
  }
  return p;
}

/** Sizes of the three output buffers (each a multiple of 4 bytes, as storage bindings need). */
export function q4BufferSizes(n: number, k: number): { layout: Q4Layout; packed: number; scales: number; zeroPoints: number } {
  const layout = q4Layout(n, k);
  return { layout, packed: layout.packedBytes, scales: layout.scaleCount * 4, zeroPoints: Math.ceil(layout.zeroPointBytes / 4) * 4 };
}

export interface Q4Dispatch {
  /** The tensor's name, for GPU object labels. */
  label: string;
  /** Rows [N] and columns [K] of the weight. */
  n: number;
  k: number;
  /** How the weight buffer stores its elements (row-major [N, K], u32-padded). */
  dtype: SupportedDtype;
  weight: GPUBuffer;
  /** At least q4BufferSizes(n, k).packed / .scales / .zeroPoints bytes, STORAGE. */
  packed: GPUBuffer;
  scales: GPUBuffer;
  zeroPoints: GPUBuffer;
  /** Q4_PARAMS_BYTES, UNIFORM | COPY_DST. */
  params: GPUBuffer;
}

/** Encodes one quantisation pass. */
export function encodeQuantizeQ4(device: GPUDevice, encoder: GPUCommandEncoder, d: Q4Dispatch): void {
  const { layout } = q4BufferSizes(d.n, d.k);
  const zpWords = Math.ceil(layout.zeroPointBytes / 4);
  const groups = Math.max(1, Math.ceil(zpWords / WORKGROUP_SIZE));
  const maxX = device.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.min(groups, maxX);
  const y = Math.ceil(groups / x);
  device.queue.writeBuffer(
    d.params,
    0,
    packStruct(PARAMS, {
      n: d.n,
      k: d.k,
      blocks: layout.blocks,
      zp_row_bytes: layout.zeroPointRowBytes,
      dtype: DTYPE_CODE[d.dtype],
      zp_words: zpWords,
      row_invocations: x * WORKGROUP_SIZE,
      _pad: 0,
    }),
  );
  const pipeline = pipelineFor(device);
  const bind = device.createBindGroup({
    label: `quantize-q4 ${d.label}`,
    layout: pipeline.getBindGroupLayout(0),
    entries: [d.params, d.weight, d.packed, d.scales, d.zeroPoints].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = encoder.beginComputePass({ label: `quantize-q4 ${d.label}` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(x, y);
  pass.end();
}

/** The MatMulNBits inputs of one weight as GPU buffers, owned by the caller (destroy them). */
export interface GpuQ4Weights {
  layout: Q4Layout;
  packed: GPUBuffer;
  scales: GPUBuffer;
  zeroPoints: GPUBuffer;
}

/**
 * Quantises a weight already on the GPU into new buffers (the page's resident path: quantise θ(α)
 * after each merge, the float buffer can then be dropped). `extraUsage`: e.g. COPY_SRC to read back.
 */
export function quantizeQ4OnGpu(device: GPUDevice, weight: GPUBuffer, n: number, k: number, dtype: SupportedDtype, label: string, extraUsage = 0): GpuQ4Weights {
  const sizes = q4BufferSizes(n, k);
  const make = (what: string, size: number) => device.createBuffer({ label: `${label} q4 ${what}`, size, usage: GPUBufferUsage.STORAGE | extraUsage });
  const out = { layout: sizes.layout, packed: make('packed', sizes.packed), scales: make('scales', sizes.scales), zeroPoints: make('zero points', sizes.zeroPoints) };
  const params = device.createBuffer({ label: `${label} q4 params`, size: Q4_PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: `quantize-q4 ${label}` });
  encodeQuantizeQ4(device, encoder, { label, n, k, dtype, weight, ...out, params });
  device.queue.submit([encoder.finish()]);
  // Destroying after submit is allowed: WebGPU keeps the buffer alive for the queued work.
  params.destroy();
  return out;
}

/** Reads quantised buffers back (tests, and a CPU consumer such as a file writer). */
export async function readQ4(device: GPUDevice, q: GpuQ4Weights): Promise<Q4Weights> {
  const read = async (src: GPUBuffer, bytes: number) => {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = device.createBuffer({ label: `${src.label} readback`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Uint8Array(staging.getMappedRange().slice(0, bytes));
    staging.unmap();
    staging.destroy();
    return out;
  };
  const l = q.layout;
  const [packed, scales, zeroPoints] = await Promise.all([read(q.packed, l.packedBytes), read(q.scales, l.scaleCount * 4), read(q.zeroPoints, l.zeroPointBytes)]);
  return { layout: l, packed, scales: new Float32Array(scales.buffer), zeroPoints };
}
