import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GpuUnavailableError, type AdapterDescription } from '../../engine/gpu/request-device.ts';
import { dtypeByteSize } from '../../engine/safetensors/dtypes.ts';
import type { ChunkInput, ChunkResult, TensorMerger } from '../../engine/merge/tensor-merger.ts';
import { ChunkExchange, EXCHANGE_SLOTS, slotOffsets } from './chunk-exchange.ts';
import type { ChildConfig, ChildMessage, ChunkMeta, ParentMessage } from './protocol.ts';

/**
 * Watchdog limits on the Dawn child. Dawn 0.6.2 has aborted (fine: the child dies and we see it)
 * and hung (not fine: nothing happens) at these points, so each stage has a deadline after which
 * the child is killed and the stage reported.
 *
 * Start to adapter answer: Node's start, the child's TypeScript imports, loading dawn.node and
 * `requestAdapter` — about 1 s on this 2-core VM, several when the cores are busy with tests.
 */
export const ADAPTER_TIMEOUT_MS = 30_000;
/** Device, both pipelines and the self-test chunk: ~1 s on SwiftShader, less on a GPU. */
export const PIPELINE_TIMEOUT_MS = 60_000;
/**
 * One chunk (≤ 8M elements, ≤ 128 MiB of inputs) from send to answer: milliseconds of GPU time,
 * a second or two of file copies, a few seconds on SwiftShader. Counted per chunk, with two in flight.
 */
export const CHUNK_TIMEOUT_MS = 60_000;
/** Milliseconds replacing all three limits (tests of the watchdog; a machine slower than these). */
export const WATCHDOG_ENV = 'STUDIO_GPU_WATCHDOG_MS';

/** Last bytes of the child's stdout/stderr kept to explain a crash (Dawn prints its reason there). */
const OUTPUT_TAIL_BYTES = 4096;

const CHILD_SCRIPT = fileURLToPath(new URL('./dawn-child.ts', import.meta.url));
/** The same hooks bin/studio.js loads (TypeScript and `?raw` WGSL imports). */
const REGISTER = new URL('../../../bin/register.js', import.meta.url).href;

/** The Dawn child failed: it died, hung, or refused. `stage` says where. */
export class GpuChildError extends GpuUnavailableError {
  constructor(
    readonly stage: 'adapter' | 'pipeline' | 'chunk',
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Dawn answered: there is no adapter, or only a software one that was not allowed. The positive
 * evidence of "no GPU here" that tests may skip on (a crash or a timeout is not).
 */
export class NoGpuAdapterError extends GpuUnavailableError {
  constructor(
    message: string,
    readonly adapter: AdapterDescription | null,
  ) {
    super(message);
  }
}

export interface DawnMergerOptions {
  /** Accept a software adapter (SwiftShader, lavapipe). */
  allowFallback: boolean;
}

type Answer = { outLength: number } & Omit<ChunkResult, 'bytes'>;

interface Pending {
  resolve(a: Answer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  slot: number;
  label: string;
}

function watchdogMs(fallback: number): number {
  const raw = Number(process.env[WATCHDOG_ENV]);
  return Number.isFinite(raw) && raw > 0 ? raw : fallback;
}

/**
 * A TensorMerger whose chunks are merged by the WGSL kernels in a child process (dawn-child.ts),
 * so a native abort or hang in Dawn ends a child and rejects the chunks in flight with a
 * GpuChildError, instead of taking the CLI down or stopping it for good. The executor cannot tell
 * it from GpuTensorMerger: two chunks may be in flight, each in its own exchange slot.
 */
export class DawnChildMerger implements TensorMerger {
  readonly kind = 'gpu' as const;
  private readonly pending = new Map<number, Pending>();
  private readonly freeSlots: number[] = Array.from({ length: EXCHANGE_SLOTS }, (_, i) => i);
  private readonly slotWaiters: Array<(slot: number) => void> = [];
  private nextId = 0;
  private dead?: GpuChildError;

  private constructor(
    private readonly child: ChildProcess,
    private readonly exchange: ChunkExchange,
    private readonly output: { tail: string },
    readonly adapter: AdapterDescription,
    readonly chunkElements: number,
  ) {
    child.on('message', (m: ChildMessage) => this.onMessage(m));
    // 'close' comes after the child's output pipes are drained, so its last words are in the tail.
    child.on('close', (code, signal) => this.fail(new GpuChildError('chunk', `the Dawn GPU process ${exitWords(code, signal, output.tail)}`)));
  }

  /**
   * Starts the child and waits for its adapter and its pipelines (each under its watchdog).
   * Throws GpuUnavailableError when there is no usable adapter or the `webgpu` package is
   * missing, GpuChildError when the child dies or hangs on the way.
   */
  static async open(options: DawnMergerOptions): Promise<DawnChildMerger> {
    const exchange = await ChunkExchange.create();
    const config: ChildConfig = { allowFallback: options.allowFallback, exchangeFile: exchange.path };
    const child = fork(CHILD_SCRIPT, [JSON.stringify(config)], {
      execArgv: ['--import', REGISTER],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const output = { tail: '' };
    const keep = (b: Buffer) => (output.tail = (output.tail + b.toString('utf8')).slice(-OUTPUT_TAIL_BYTES));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // A send to a child that just died surfaces as 'error' (unhandled, it would end the CLI); the
    // death itself is reported through 'close'.
    child.on('error', () => {});
    try {
      const adapter = await stage(child, output, 'adapter', watchdogMs(ADAPTER_TIMEOUT_MS), (m) => {
        if (m.type !== 'adapter') return undefined;
        if (m.refusal || !m.adapter) throw new NoGpuAdapterError(m.refusal ?? 'no adapter', m.adapter);
        return m.adapter;
      });
      const ready = await stage(child, output, 'pipeline', watchdogMs(PIPELINE_TIMEOUT_MS), (m) => (m.type === 'ready' ? m : undefined));
      return new DawnChildMerger(child, exchange, output, adapter, ready.chunkElements);
    } catch (e) {
      child.kill('SIGKILL');
      await exchange.remove();
      throw e;
    }
  }

  async mergeChunk(c: ChunkInput): Promise<ChunkResult> {
    if (c.into) throw new Error(`the Dawn child merger cannot write ${c.label} into a GPU buffer of this process`);
    if (c.count > this.chunkElements) throw new RangeError(`chunk of ${c.count} elements exceeds ${this.chunkElements}`);
    if (this.dead) throw this.dead;
    const slot = await this.takeSlot();
    try {
      if (this.dead) throw this.dead;
      const { inOffset, outOffset } = slotOffsets(this.chunkElements, slot);
      const parts = [c.target?.bytes, c.sft.bytes, c.rl.bytes].filter((b): b is Uint8Array => b !== undefined);
      await this.exchange.write(inOffset, parts);
      if (this.dead) throw this.dead;
      const meta: ChunkMeta = {
        count: c.count,
        alpha: c.alpha,
        outDtype: c.outDtype,
        label: c.label,
        stats: c.stats,
        output: c.output,
        target: c.target && { dtype: c.target.dtype, length: c.target.bytes.byteLength },
        sft: { dtype: c.sft.dtype, length: c.sft.bytes.byteLength },
        rl: { dtype: c.rl.dtype, length: c.rl.bytes.byteLength },
      };
      const id = this.nextId++;
      const answer = new Promise<Answer>((resolve, reject) => {
        const limit = watchdogMs(CHUNK_TIMEOUT_MS);
        const timer = setTimeout(() => {
          this.fail(new GpuChildError('chunk', `the Dawn GPU process did not answer within ${limit / 1000} s and was stopped`));
          this.child.kill('SIGKILL');
        }, limit);
        this.pending.set(id, { slot, label: c.label, timer, reject, resolve });
      });
      this.child.send({ type: 'chunk', id, inOffset, outOffset, meta } satisfies ParentMessage);
      const { outLength, ...result } = await answer;
      const expected = c.output === false ? 0 : c.count * dtypeByteSize(c.outDtype)!;
      if (outLength !== expected) throw new Error(`Dawn child returned ${outLength} bytes for ${c.label}, expected ${expected}`);
      const bytes = outLength ? await this.exchange.read(outOffset, outLength) : new Uint8Array(0);
      return { ...result, bytes };
    } finally {
      this.releaseSlot(slot);
    }
  }

  destroy(): void {
    this.fail(new GpuChildError('chunk', 'the Dawn GPU process was closed'));
    this.child.kill('SIGKILL');
    void this.exchange.remove();
  }

  private onMessage(m: ChildMessage) {
    if (m.type !== 'result' && m.type !== 'failed') return;
    const p = m.id === undefined ? undefined : this.pending.get(m.id);
    if (!p) {
      if (m.type === 'failed') this.fail(new GpuChildError('chunk', `the Dawn GPU process failed: ${m.message}`));
      return;
    }
    this.pending.delete(m.id!);
    clearTimeout(p.timer);
    if (m.type === 'failed') p.reject(new GpuChildError('chunk', m.message));
    else p.resolve({ outLength: m.outLength, nan: m.nan, inf: m.inf, stats: m.stats });
  }

  /** Rejects every chunk in flight (and all later ones) with `e`; the first failure wins. */
  private fail(e: GpuChildError) {
    this.dead ??= e;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new GpuChildError('chunk', `${this.dead.reason} while merging ${p.label}`));
      this.pending.delete(id);
    }
  }

  private takeSlot(): Promise<number> {
    const free = this.freeSlots.pop();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(slot: number) {
    const waiter = this.slotWaiters.shift();
    if (waiter) waiter(slot);
    else this.freeSlots.push(slot);
  }
}

/**
 * Waits for the child's next message that `accept` maps to a value (or throws on), failing if the
 * child exits first or says nothing for `limitMs`.
 */
function stage<T>(child: ChildProcess, output: { tail: string }, name: 'adapter' | 'pipeline', limitMs: number, accept: (m: ChildMessage) => T | undefined): Promise<T> {
  const doing = name === 'adapter' ? 'looking for a GPU adapter' : 'creating the merge pipeline';
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('close', onClose);
    };
    const timer = setTimeout(() => {
      done();
      child.kill('SIGKILL');
      reject(new GpuChildError(name, `the Dawn GPU process did not finish ${doing} within ${limitMs / 1000} s and was stopped`));
    }, limitMs);
    const onMessage = (m: ChildMessage) => {
      try {
        if (m.type === 'failed') {
          done();
          // A StudioError in the child (no `webgpu`, a refused self-test) is a reason as it stands.
          reject(m.studio ? new GpuUnavailableError(m.message) : new GpuChildError(name, `the Dawn GPU process failed while ${doing}: ${m.message}`));
          return;
        }
        const v = accept(m);
        if (v !== undefined) {
          done();
          resolve(v);
        }
      } catch (e) {
        done();
        reject(e);
      }
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new GpuChildError(name, `the Dawn GPU process ${exitWords(code, signal, output.tail)} while ${doing}`));
    };
    child.on('message', onMessage);
    child.on('close', onClose);
  });
}

/** "crashed (SIGABRT: terminate called … Invalid argument)" / "exited with status 3". */
function exitWords(code: number | null, signal: NodeJS.Signals | null, tail: string): string {
  const last = tail
    .split('\n')
    .map((l) => l.trim())
    // Stack dumps (Node's after an abort, JS frames) say nothing a user can act on; Dawn's and
    // the C++ runtime's last lines ("what():  Invalid argument") do.
    .filter((l) => l && !/^at |^Node\.js v|^\d+: |^-{3,}.*-{3,}$/.test(l))
    .slice(-2)
    .join(' / ');
  const how = signal ? `crashed (${signal}` : `exited with status ${code}`;
  return signal ? `${how}${last ? `: ${last}` : ''})` : `${how}${last ? ` (${last})` : ''}`;
}
