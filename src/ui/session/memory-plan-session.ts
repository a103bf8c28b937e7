import type { Checkpoint } from '../../engine/checkpoint/open-checkpoint.ts';
import { StudioError } from '../../engine/errors.ts';
import { planMerge, type VocabPolicy } from '../../engine/merge/merge-plan.ts';
import { measureResidentPassRate } from '../../engine/merge/resident-merge.ts';
import { planPageWeights, type DeviceProfile, type MemoryPlan, type PageWeightsPlan, type WeightsChoice } from '../../engine/model/memory-plan.ts';
import { useStudio, type GpuState } from '../store.ts';
import { gpuContext } from './gpu.ts';

/**
 * The memory plan of a trio on this page's device, from headers alone (nothing downloaded): what
 * the playground will hold on the GPU, in which dtypes, how much, what error that adds, and how
 * long a new α will take. The α time divides by this GPU's own merge rate, measured once.
 */

/** This page's device as the planner sees it: limits and shader-f16 from the adapter, the budget from Settings. */
export function deviceProfile(gpu: GpuState, budgetGiB: number): DeviceProfile {
  const budgetBytes = budgetGiB * 1024 ** 3;
  if (gpu.status !== 'ready') return { gpu: null, budgetBytes };
  return {
    gpu: {
      limits: { maxBufferSize: gpu.maxBufferSize ?? gpu.maxStorageBufferBindingSize ?? 0, maxStorageBufferBindingSize: gpu.maxStorageBufferBindingSize },
      shaderF16: gpu.shaderF16 ?? false,
      isFallbackAdapter: gpu.isFallbackAdapter,
    },
    budgetBytes,
    gpuBytesPerSecond: gpu.mergeBytesPerSecond,
  };
}

let measuring: Promise<void> | undefined;

/** Measures this GPU's resident merge rate once (a few passes over 64 MB) and keeps it in the store. */
export function measureMergeRate(): Promise<void> {
  return (measuring ??= (async () => {
    if (useStudio.getState().gpu.status !== 'ready') return;
    try {
      const rate = await measureResidentPassRate((await gpuContext()).device);
      const gpu = useStudio.getState().gpu;
      if (gpu.status === 'ready') useStudio.getState().setGpu({ ...gpu, mergeBytesPerSecond: rate });
    } catch (e) {
      // The plan then says it assumed a rate; a failing probe must not block anything.
      console.warn(`[studio] could not measure the GPU merge rate: ${(e as Error).message}`);
    }
  })());
}

/**
 * The plan of a trio as the playground would build it, or the reason it cannot be planned (an
 * incompatible trio). `plan`: the float weights' plan; `weights`: float or 4-bit, as the page
 * builds it for the Settings' `choice` (planPageWeights).
 */
export function planTrio(
  trio: { sft: Checkpoint; rl: Checkpoint; target: Checkpoint },
  vocabPolicy: VocabPolicy,
  device: DeviceProfile,
  choice: WeightsChoice = 'auto',
): { plan?: MemoryPlan; weights?: PageWeightsPlan; error?: string } {
  try {
    const merge = planMerge(trio, { mode: 'merge', outDtype: 'F32', vocabPolicy });
    const weights = planPageWeights(merge.tensors, device, choice);
    return { plan: weights.float, weights };
  } catch (e) {
    if (!(e instanceof StudioError)) throw e;
    return { error: e.message };
  }
}
