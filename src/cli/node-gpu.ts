// Node only: WebGPU through Dawn (the `webgpu` package). Without a GPU, Dawn uses
// SwiftShader's Vulkan driver, which Debian's chromium package ships.
import { existsSync, readdirSync } from 'node:fs';
import { requestGpu, type GpuContext } from '../engine/gpu/request-device.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let context: Promise<GpuContext> | undefined;

export function nodeGpu(): Promise<GpuContext> {
  return (context ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES && !hasSystemVulkanDriver() && existsSync(SWIFTSHADER_ICD)) {
      // Must be set before Dawn loads Vulkan.
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    return requestGpu(create([]) as GPU);
  })());
}

/**
 * Is there GPU hardware for a system Vulkan driver to use? Driver manifests alone prove
 * nothing (Debian's mesa package installs Intel and AMD ones on machines without either),
 * so look for the device nodes the drivers open.
 */
export function hasSystemVulkanDriver(): boolean {
  if (existsSync('/dev/nvidia0')) return true;
  return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
}
