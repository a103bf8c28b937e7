/**
 * The one GPUDevice the studio shares between its WGSL kernels and onnxruntime-web.
 * Requested with the adapter's own limits: without `requiredLimits` a device gets WebGPU's
 * defaults (128 MiB storage bindings), too small for real embedding matrices.
 */
export interface GpuContext {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  hasShaderF16: boolean;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupsPerDimension: number };
}

export class GpuUnavailableError extends Error {}

export async function requestGpu(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuContext> {
  if (!gpu) throw new GpuUnavailableError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge.');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new GpuUnavailableError('WebGPU is present but no GPU adapter was found (it may be disabled or blocklisted).');
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
  const info = adapter.info;
  return {
    device,
    adapterInfo: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
    },
    hasShaderF16,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}
