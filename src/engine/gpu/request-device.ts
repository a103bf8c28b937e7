import { StudioError } from '../errors.ts';

/**
 * The one GPUDevice the studio shares between its WGSL kernels and onnxruntime-web.
 * Requested with the adapter's own limits: without `requiredLimits` a device gets WebGPU's
 * defaults (128 MiB storage bindings), too small for real embedding matrices.
 */
export interface GpuContext {
  device: GPUDevice;
  adapterInfo: AdapterDescription;
  hasShaderF16: boolean;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupsPerDimension: number };
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /**
   * A software (CPU) implementation such as SwiftShader or lavapipe: WebGPU works, but slower than
   * the studio's CPU paths. From `adapter.info.isFallbackAdapter` (older browsers:
   * `adapter.isFallbackAdapter`).
   */
  isFallbackAdapter: boolean;
}

/** No usable GPU (no WebGPU, no adapter, only a software adapter where a GPU was asked for, …). */
export class GpuUnavailableError extends StudioError {}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const legacy = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: info?.isFallbackAdapter ?? legacy ?? false,
  };
}

/** "vendor / architecture / device / description", empty parts left out. */
export function adapterName(a: AdapterDescription): string {
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export async function requestGpu(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuContext> {
  if (!gpu) throw new GpuUnavailableError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge.');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuUnavailableError('WebGPU is present but no GPU adapter was found (it may be disabled or blocklisted).');
  return deviceFor(adapter);
}

/** A device on `adapter` with the adapter's own limits (and shader-f16 where it has it). */
export async function deviceFor(adapter: GPUAdapter): Promise<GpuContext> {
  const hasShaderF16 = adapter.features.has('shader-f16');
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'studio',
    requiredFeatures: hasShaderF16 ? ['shader-f16'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  });
  return {
    device,
    adapterInfo: describeAdapter(adapter),
    hasShaderF16,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}
