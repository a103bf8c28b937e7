import { CpuTensorMerger } from '../../engine/merge/cpu-tensor-merger.ts';
import type { ChunkInput, ChunkResult, TensorMerger } from '../../engine/merge/tensor-merger.ts';

/**
 * `--device auto` once the GPU path has started: a chunk the GPU merger fails (its child died,
 * hung, or lost the device) is merged again on the CPU, and so is every chunk after it, with one
 * notice naming the reason. The chunk's inputs are still in this process, and the CPU path gives
 * the same bits, so the merge completes as if it had run on the CPU from the start.
 */
export class CpuFallbackMerger implements TensorMerger {
  readonly chunkElements: number;
  private cpu?: CpuTensorMerger;

  constructor(
    private readonly gpu: TensorMerger,
    private readonly notice: (reason: string) => void,
  ) {
    this.chunkElements = gpu.chunkElements;
  }

  get kind(): 'gpu' | 'cpu' {
    return this.cpu ? 'cpu' : 'gpu';
  }

  async mergeChunk(c: ChunkInput): Promise<ChunkResult> {
    if (!this.cpu) {
      try {
        return await this.gpu.mergeChunk(c);
      } catch (e) {
        if (!this.cpu) {
          // Sized for the chunks the executor already planned with the GPU's chunkElements.
          this.cpu = new CpuTensorMerger(this.chunkElements);
          this.gpu.destroy();
          this.notice(e instanceof Error ? e.message : String(e));
        }
      }
    }
    return this.cpu.mergeChunk(c);
  }

  destroy(): void {
    this.gpu.destroy();
  }
}
