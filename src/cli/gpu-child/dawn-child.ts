/**
 * The CLI's Dawn process: the only place the CLI loads the `webgpu` package. Started by
 * dawn-child-merger.ts, it asks Dawn for an adapter, builds the merge and statistics pipelines,
 * checks them on a self-test chunk against the CPU path, and then merges the chunks the parent
 * sends. A native abort or hang here (Dawn 0.6.2 has shown both) costs the parent a child, not
 * the user's command.
 */
import { openSync, readSync, rmSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { deviceFor } from '../../engine/gpu/request-device.ts';
import { StudioError } from '../../engine/errors.ts';
import { CpuTensorMerger } from '../../engine/merge/cpu-tensor-merger.ts';
import { GpuTensorMerger } from '../../engine/merge/gpu-tensor-merger.ts';
import type { ChunkInput } from '../../engine/merge/tensor-merger.ts';
import { adapterRefusal, loadDawn, requestDawnAdapter } from '../node-gpu.ts';
import { CHILD_FAULTS, FAULT_ENV, type ChildConfig, type ChildFault, type ChildMessage, type ParentMessage } from './protocol.ts';

/** How often the orphan guard looks for the CLI (a hung child outlives it by at most this). */
const ORPHAN_CHECK_MS = 500;
/** The chunk at which `abort-chunk` / `hang-chunk` strike: the third, so a merge is cut midway. */
const FAULT_CHUNK = 3;

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const faultEnv = process.env[FAULT_ENV];
const fault = (CHILD_FAULTS as readonly string[]).includes(faultEnv ?? '') ? (faultEnv as ChildFault) : undefined;

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, () => resolve()));
}

/** Says why and exits; the parent reads the message before it sees the exit. */
async function finish(m?: ChildMessage): Promise<never> {
  if (m) await send(m);
  process.exit(0);
}

function actOut(stage: 'adapter' | 'pipeline' | 'chunk') {
  if (fault === `abort-${stage}`) process.abort();
  // Blocks the event loop for good, as a driver call that never returns would.
  if (fault === `hang-${stage}`) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

const failure = (e: unknown, id?: number): ChildMessage => ({
  type: 'failed',
  id,
  message: e instanceof Error ? e.message : String(e),
  studio: e instanceof StudioError,
});

/**
 * One small chunk through both pipelines (merge and statistics), compared with the CPU path bit
 * for bit: float32 inputs, bf16 output, so decoding and round-to-nearest-even are both exercised.
 * A GPU that builds the pipelines but computes something else is refused before the user's data.
 */
async function selfTest(merger: GpuTensorMerger): Promise<void> {
  const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
  const input: ChunkInput = {
    target: { dtype: 'F32', bytes: f32([1, -2.5, 0.1, 3e-3, 1000.5]) },
    sft: { dtype: 'F32', bytes: f32([0.25, 1, -0.75, 7e-4, 2]) },
    rl: { dtype: 'F32', bytes: f32([0.5, 1.5, -0.125, 9e-4, -3]) },
    count: 5,
    alpha: 0.7,
    outDtype: 'BF16',
    label: 'GPU self-test',
    stats: true,
  };
  const [gpu, cpu] = await Promise.all([merger.mergeChunk(input), new CpuTensorMerger().mergeChunk(input)]);
  if (!Buffer.from(gpu.bytes).equals(Buffer.from(cpu.bytes)) || gpu.stats?.count !== 5) {
    throw new StudioError(`the GPU's merge of a self-test chunk differs from the CPU path (GPU ${Buffer.from(gpu.bytes).toString('hex')}, CPU ${Buffer.from(cpu.bytes).toString('hex')})`);
  }
}

/**
 * Ends this process once the CLI is gone. The IPC 'disconnect' event does that while the event
 * loop runs; a thread of its own does it when the main thread is stuck in a Dawn call that never
 * returns (a Ctrl-C'd CLI would otherwise leave a hung child holding the GPU). Resolves once the
 * thread runs, so it is there before Dawn is touched.
 */
function guardAgainstOrphaning(): Promise<void> {
  const guard = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     parentPort.postMessage('up');
     setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, ${ORPHAN_CHECK_MS});`,
    { eval: true, workerData: process.ppid },
  );
  guard.unref();
  return new Promise((resolve) => guard.once('message', () => resolve()));
}

async function main() {
  // Opened first, and its name removed at once where the OS allows it (POSIX keeps the data while
  // both processes hold it open): a CLI killed at any later point leaves nothing in /dev/shm.
  const fd = openSync(config.exchangeFile, 'r+');
  if (process.platform !== 'win32') rmSync(config.exchangeFile, { force: true });
  await guardAgainstOrphaning();
  actOut('adapter');
  const found = await requestDawnAdapter(await loadDawn());
  const refusal = adapterRefusal(found?.description ?? null, config.allowFallback);
  if (refusal || !found) return finish({ type: 'adapter', adapter: found?.description ?? null, refusal });
  await send({ type: 'adapter', adapter: found.description });

  const { device } = await deviceFor(found.adapter);
  actOut('pipeline');
  const merger = new GpuTensorMerger(device);
  await selfTest(merger);

  const read = (at: number, length: number) => {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, at + done);
      if (n === 0) throw new Error(`chunk exchange ended at ${at + done}`);
      done += n;
    }
    return out;
  };
  let chunks = 0;
  process.on('message', (m: ParentMessage) => {
    if (m.type !== 'chunk') return;
    if (++chunks === FAULT_CHUNK) actOut('chunk');
    void (async () => {
      try {
        const meta = m.meta;
        let at = m.inOffset;
        const take = (p: { length: number }) => {
          const bytes = read(at, p.length);
          at += p.length;
          return bytes;
        };
        const target = meta.target ? { dtype: meta.target.dtype, bytes: take(meta.target) } : undefined;
        const sft = { dtype: meta.sft.dtype, bytes: take(meta.sft) };
        const rl = { dtype: meta.rl.dtype, bytes: take(meta.rl) };
        const res = await merger.mergeChunk({ target, sft, rl, count: meta.count, alpha: meta.alpha, outDtype: meta.outDtype, label: meta.label, stats: meta.stats, output: meta.output });
        if (res.bytes.byteLength) writeSync(fd, res.bytes, 0, res.bytes.byteLength, m.outOffset);
        await send({ type: 'result', id: m.id, outLength: res.bytes.byteLength, nan: res.nan, inf: res.inf, stats: res.stats });
      } catch (e) {
        await send(failure(e, m.id));
      }
    })();
  });
  await send({ type: 'ready', chunkElements: merger.chunkElements });
}

// The parent gone (its IPC channel closed): nothing left to merge for.
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (e) => void finish(failure(e)));
main().catch((e) => finish(failure(e)));
