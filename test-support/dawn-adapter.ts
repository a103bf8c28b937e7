import { DawnChildMerger, NoGpuAdapterError } from '../src/cli/gpu-child/dawn-child-merger.ts';
import type { AdapterDescription } from '../src/engine/gpu/request-device.ts';

/** Where Debian's chromium package puts SwiftShader's Vulkan driver (the page's e2e GPU as well). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * What the CLI's GPU path finds here under `env`: a usable adapter (the GPU child started, built
 * its pipelines and passed its self-test) or Dawn's positive answer that there is none. Anything
 * else — the child crashing or hanging, a missing `webgpu` package — throws, so a test that
 * branches on this can never skip on a failure.
 */
export async function dawnAdapter(env: Record<string, string> = {}, allowFallback = false): Promise<{ adapter: AdapterDescription } | { none: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const merger = await DawnChildMerger.open({ allowFallback });
    merger.destroy();
    return { adapter: merger.adapter };
  } catch (e) {
    if (e instanceof NoGpuAdapterError) return { none: e.message };
    throw e;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
