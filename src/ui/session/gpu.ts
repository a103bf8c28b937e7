import { requestGpu, type GpuContext } from '../../engine/gpu/request-device.ts';
import { useStudio } from '../store.ts';

/** The page's one GPU context; later issues' kernels and ORT sessions share this device. */
let context: Promise<GpuContext> | undefined;

export function gpuContext(): Promise<GpuContext> {
  return (context ??= requestGpu());
}

export async function startGpu(): Promise<void> {
  const set = useStudio.getState().setGpu;
  try {
    const ctx = await gpuContext();
    const a = ctx.adapterInfo;
    const adapter = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    set({
      status: 'ready',
      adapter,
      shaderF16: ctx.hasShaderF16,
      maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize,
      maxBufferSize: ctx.limits.maxBufferSize,
      isFallbackAdapter: ctx.adapterInfo.isFallbackAdapter,
    });
    console.info(`[studio] WebGPU adapter: ${adapter}`);
    ctx.device.lost.then((info) => set({ status: 'unavailable', error: `the GPU device was lost (${info.reason}: ${info.message}). Reload the page.` }));
    ctx.device.addEventListener('uncapturederror', (e) => console.error(`[studio] WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  } catch (e) {
    set({ status: 'unavailable', error: (e as Error).message });
  }
}
