/**
 * A GPUDevice stand-in for unit tests of the GPU *plumbing* (error scopes, readbacks, device
 * loss), not of the kernels: it records buffers, copies and submissions and maps buffers back,
 * but compute passes do nothing. Kernels are tested on real adapters (e2e/merge-kernel.spec.ts,
 * gpu-tensor-merger.node.spec.ts). What it can do that a real device cannot on demand: lose
 * itself at the N-th submission, or fail the next error scope with out-of-memory/validation.
 */

/** The WebGPU flag namespaces (browser globals) with the spec's values, for Node. */
export const GPU_GLOBALS = {
  GPUBufferUsage: { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 },
  GPUMapMode: { READ: 1, WRITE: 2 },
};

class FakeBuffer {
  readonly data: Uint8Array;
  destroyed = false;
  constructor(
    private readonly gpu: FakeGpu,
    readonly label: string,
    readonly size: number,
    readonly usage: number,
  ) {
    this.data = new Uint8Array(size);
  }
  async mapAsync(): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    // What Chromium does for a buffer of a lost device.
    if (this.gpu.lostInfo) throw new DOMException('Device is lost', 'OperationError');
    if (this.destroyed) throw new DOMException('Buffer was destroyed before mapping', 'AbortError');
  }
  getMappedRange(offset = 0, size = this.size - offset): ArrayBuffer {
    return this.data.slice(offset, offset + size).buffer;
  }
  unmap() {}
  destroy() {
    this.destroyed = true;
  }
}

export interface FakeGpu {
  device: GPUDevice;
  submits: number;
  buffersAlive(): number;
  lostInfo?: GPUDeviceLostInfo;
  /** Loses the device now (what a driver reset looks like). */
  lose(message?: string): void;
  /** The next submission of the given kind fails with this error scope error. */
  failNextScope(kind: 'out-of-memory' | 'validation', message: string): void;
}

export function fakeGpuDevice(o: { loseAtSubmit?: number } = {}): FakeGpu {
  let resolveLost!: (info: GPUDeviceLostInfo) => void;
  const lost = new Promise<GPUDeviceLostInfo>((r) => (resolveLost = r));
  const buffers: FakeBuffer[] = [];
  const scopes: Array<{ filter: string; error: GPUError | null }> = [];
  const pending = new Map<string, string>();
  const gpu: FakeGpu = {
    device: undefined as unknown as GPUDevice,
    submits: 0,
    buffersAlive: () => buffers.filter((b) => !b.destroyed).length,
    lose(message = 'the GPU process crashed (test)') {
      if (gpu.lostInfo) return;
      gpu.lostInfo = { reason: 'unknown', message } as GPUDeviceLostInfo;
      resolveLost(gpu.lostInfo);
    },
    failNextScope(kind, message) {
      pending.set(kind, message);
    },
  };
  const bytesOf = (data: BufferSource, offset = 0, size?: number) => {
    const view = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return view.subarray(offset, size === undefined ? undefined : offset + size);
  };
  const device = {
    label: 'fake device',
    lost,
    limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30, maxComputeWorkgroupsPerDimension: 65535, minUniformBufferOffsetAlignment: 256, minStorageBufferOffsetAlignment: 256 },
    createBuffer(d: GPUBufferDescriptor) {
      const b = new FakeBuffer(gpu, d.label ?? '', d.size, d.usage);
      buffers.push(b);
      return b;
    },
    createShaderModule: () => ({}),
    createComputePipeline: () => ({ getBindGroupLayout: () => ({}) }),
    createBindGroup: () => ({}),
    createCommandEncoder() {
      const copies: Array<() => void> = [];
      return {
        copyBufferToBuffer(src: FakeBuffer, so: number, dst: FakeBuffer, dOff: number, size: number) {
          copies.push(() => dst.data.set(src.data.subarray(so, so + size), dOff));
        },
        beginComputePass: () => ({ setPipeline() {}, setBindGroup() {}, dispatchWorkgroups() {}, end() {} }),
        finish: () => ({ copies }),
      };
    },
    queue: {
      writeBuffer(b: FakeBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number) {
        if (!gpu.lostInfo) b.data.set(bytesOf(data, dataOffset, size), offset);
      },
      submit(list: Array<{ copies: Array<() => void> }>) {
        if (gpu.lostInfo) return;
        gpu.submits++;
        for (const cb of list) for (const c of cb.copies) c();
        if (gpu.submits === o.loseAtSubmit) gpu.lose();
      },
      onSubmittedWorkDone: async () => {},
    },
    pushErrorScope(filter: string) {
      const message = pending.get(filter);
      pending.delete(filter);
      scopes.push({ filter, error: message === undefined ? null : ({ message } as GPUError) });
    },
    popErrorScope() {
      const s = scopes.pop();
      if (!s) return Promise.reject(new DOMException('no error scope', 'OperationError'));
      return Promise.resolve(s.error);
    },
    destroy() {
      gpu.lose('destroyed');
    },
  };
  gpu.device = device as unknown as GPUDevice;
  return gpu;
}
