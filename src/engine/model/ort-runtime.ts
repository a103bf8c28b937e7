import type * as OrtNamespace from 'onnxruntime-web';
import { StudioError } from '../errors.ts';

/**
 * The one module that owns onnxruntime: which build is loaded, session creation (one at a time,
 * as onnxruntime-web requires), a run queue per session (runs never overlap), and disposal of
 * sessions and the GPU-resident tensors they produced.
 *
 * The caller injects the build and names its provider:
 * - `webgpu`: the page passes `onnxruntime-web/webgpu` (native WebGPU EP) and its own GPUDevice,
 *   so merged weights in that device's buffers are fed without a copy;
 * - `wasm`: `onnxruntime-web` on the CPU (the page without WebGPU; in Node only on request,
 *   see cli/model-flags.ts) — a 4 GB heap, so real models do not fit;
 * - `cpu`: `onnxruntime-node`, native onnxruntime's CPU EP (the CLI): native memory, and models
 *   created from a file path, so weights can be ONNX external data beside it.
 * onnxruntime-node and onnxruntime-web each register their backends with their own copy of
 * onnxruntime-common, so a session is always created through the namespace it was given.
 */

export type Ort = typeof OrtNamespace;
export type OrtProvider = 'webgpu' | 'wasm' | 'cpu';

/** What ran, in words, for results files and benchmarks. */
export function describeProvider(p: OrtProvider): string {
  return p === 'cpu' ? 'onnxruntime-node (cpu)' : `onnxruntime-web (${p})`;
}
export type OrtTensor = OrtNamespace.Tensor;

export interface RuntimeOptions {
  ort: Ort;
  provider: OrtProvider;
  /** Required for 'webgpu': the device the merge kernels wrote the weights on. */
  device?: GPUDevice;
  /**
   * onnxruntime-node's intra-op threads (default: onnxruntime's, one per core). Benchmarks pin 1:
   * on a shared, loaded machine spinning worker threads made timings swing by 2×.
   */
  cpuThreads?: number;
}

/** onnxruntime's severity scale: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
const SESSION_LOG_SEVERITY_ERROR = 3;

let creating: Promise<unknown> = Promise.resolve();

/**
 * Where each feed and fetch of one run lived (`cpu`, `gpu-buffer`, …), by name, and how many
 * GPU-resident outputs of this runtime were alive when the run returned: what the KV-cache test
 * (e2e/kv-cache.spec.ts) and benchmarks observe, so that "the cache stays on the GPU" and "no
 * tensor leaks" are measured, not assumed.
 */
export interface RunTrace {
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  liveGpuTensors: number;
}

export class OrtRuntime {
  private readonly sessions = new Set<OrtSession>();
  private live = 0;
  /** Called after every run of this runtime's sessions (tests, benchmarks). */
  onRun?: (trace: RunTrace) => void;
  constructor(readonly o: RuntimeOptions) {
    if (o.provider === 'webgpu' && !o.device) throw new Error('the WebGPU provider needs the GPUDevice the weights live on');
    if (o.provider === 'wasm') o.ort.env.wasm.numThreads = o.ort.env.wasm.numThreads || 1;
    // ORT warns that shape ops run on the CPU (by design); keep the console for real problems.
    // env.logLevel covers ORT's JS side; the native logger of each session is set below.
    o.ort.env.logLevel = 'error';
  }

  get ort(): Ort {
    return this.o.ort;
  }

  /**
   * Creates a session from graph bytes, or (onnxruntime-node) from a model file whose external
   * data lies beside it; sessions are created strictly one after another.
   */
  async createSession(graph: Uint8Array | string, outputsOnGpu: string[] = []): Promise<OrtSession> {
    const make = async () => {
      const { ort, provider, device } = this.o;
      const options: OrtNamespace.InferenceSession.SessionOptions = {
        executionProviders: provider === 'webgpu' ? [{ name: 'webgpu', device } as unknown as OrtNamespace.InferenceSession.ExecutionProviderConfig] : [provider],
        graphOptimizationLevel: 'all',
        // Each session's native logger defaults to warnings, and the WASM build prints them with
        // console.error: VerifyEachNodeIsAssignedToAnEp ("shape ops assigned to the CPU", by design)
        // showed as two errors on every model build. Errors (3) still print.
        logSeverityLevel: SESSION_LOG_SEVERITY_ERROR,
        ...(provider === 'cpu' && this.o.cpuThreads ? { intraOpNumThreads: this.o.cpuThreads, interOpNumThreads: 1 } : {}),
        // The KV cache stays on the GPU: present.* come back as gpu-buffer tensors and are fed
        // straight back as past.* (e2e/kv-cache.spec.ts counts locations and live tensors per step).
        // Pre-allocated outputs in run()'s `fetches` (IO binding) would not save an allocation:
        // a fetch must have the output's exact shape and present.* grows by one position per step,
        // so every step needs a new buffer either way — taken from the EP's cache of freed buffers
        // (storageBufferCacheMode 'bucket', onnxruntime-common 1.30's default). Reuse proper needs
        // a fixed-capacity cache written in place (GroupQueryAttention's past/present buffer
        // sharing, as onnxruntime-genai does) — not done.
        ...(provider === 'webgpu' && outputsOnGpu.length
          ? { preferredOutputLocation: Object.fromEntries(outputsOnGpu.map((n) => [n, 'gpu-buffer' as const])) }
          : {}),
      };
      if (typeof graph === 'string' && provider !== 'cpu') throw new Error(`a model file path needs the cpu provider (onnxruntime-node), not ${provider}`);
      try {
        return new OrtSession(this, await (typeof graph === 'string' ? ort.InferenceSession.create(graph, options) : ort.InferenceSession.create(graph, options)));
      } catch (e) {
        throw new StudioError(`onnxruntime could not create the model session (${provider}): ${(e as Error).message}`);
      }
    };
    const next = creating.then(make, make);
    creating = next.catch(() => undefined);
    const s = await next;
    this.sessions.add(s);
    return s;
  }

  /** GPU-resident tensors this runtime's runs produced that are not disposed yet. */
  get liveGpuTensors(): number {
    return this.live;
  }

  /** Counts a run's GPU-resident outputs until each is disposed; reports the run to onRun. */
  track(feeds: Record<string, OrtTensor>, out: Record<string, OrtTensor>): void {
    for (const t of Object.values(out)) {
      if (t.location !== 'gpu-buffer') continue;
      this.live++;
      const dispose = t.dispose.bind(t);
      let disposed = false;
      Object.defineProperty(t, 'dispose', {
        value: () => {
          if (!disposed) {
            disposed = true;
            this.live--;
          }
          dispose();
        },
      });
    }
    if (this.onRun) {
      const where = (r: Record<string, OrtTensor>) => Object.fromEntries(Object.entries(r).map(([n, t]) => [n, t.location]));
      this.onRun({ inputs: where(feeds), outputs: where(out), liveGpuTensors: this.live });
    }
  }

  forget(s: OrtSession) {
    this.sessions.delete(s);
  }

  async dispose(): Promise<void> {
    for (const s of [...this.sessions]) await s.release();
  }
}

export class OrtSession {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly runtime: OrtRuntime,
    readonly session: OrtNamespace.InferenceSession,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Runs after every earlier run of this session has finished. */
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
    const go = async () => {
      const out = (await this.session.run(feeds)) as Record<string, OrtTensor>;
      this.runtime.track(feeds, out);
      return out;
    };
    const next = this.queue.then(go, go);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async release(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.runtime.forget(this);
    await this.session.release();
  }
}
