import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dawnAdapter, SWIFTSHADER_ICD } from '../../../test-support/dawn-adapter.ts';
import { makeFixtureDir, type FixtureDir } from '../../../test-support/fixture-dir.ts';
import { adapterName } from '../../engine/gpu/request-device.ts';
import type { ChildFault } from './protocol.ts';

/**
 * `--device gpu|auto|cpu` through the user's door: `node bin/studio.js merge …` as a subprocess.
 * What the machine has decides which outcome is right, never whether the test runs: Dawn is
 * asked first (dawnAdapter), and a GPU must merge bit-identically while no GPU must give the
 * one-line refusal or the CPU path. The GPU child itself (pipelines, chunks, the watchdog) is
 * exercised on SwiftShader, the software adapter chromium ships, with the fallback allowed.
 */
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/**
 * Watchdog limit (one value for every stage) per fault: short where the child hangs at once, long
 * enough for the stages before the fault otherwise (the child's start, SwiftShader's pipeline
 * build and self-test: ~2 s idle, more on a 2-core machine busy with other tests); an abort needs
 * no watchdog, so its limit only must not strike first. Without the watchdog a hung child never
 * lets the CLI finish; with it the CLI is done well inside LIMIT_S.
 */
const WATCHDOG_MS = (fault: ChildFault) => (fault === 'hang-adapter' ? 3000 : fault.startsWith('hang') ? 10_000 : 30_000);
const LIMIT_S = 45;
const SWIFTSHADER = { VK_ICD_FILENAMES: SWIFTSHADER_ICD };

let fx: FixtureDir;
let work: string;
let n = 0;
const out = () => join(work, `o${++n}`);
const trio = () => ['--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--target', fx.model('tiny-qwen2-target'), '--alpha', '0.5'];

interface Run {
  code: number | null;
  stdout: string[];
  stderr: string[];
  seconds: number;
}

function studio(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/studio.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', fail);
    child.on('close', (code) => {
      const lines = (s: string) => s.split('\n').filter(Boolean);
      done({ code, stdout: lines(stdout), stderr: lines(stderr), seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Every file of a merged folder, by name. */
function folder(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

let cpu: { merge: Record<string, string>; vector: Record<string, string> };

beforeAll(async () => {
  fx = makeFixtureDir('studio-gpu-cli-');
  work = mkdtempSync(join(tmpdir(), 'studio-gpu-cli-'));
  const [m, v] = [out(), out()];
  const runs = await Promise.all([studio(['merge', ...trio(), '--out', m, '--device', 'cpu']), studio(['vector', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--out', v, '--device', 'cpu'])]);
  expect(runs.map((r) => [r.code, r.stderr])).toEqual([[0, []], [0, []]]);
  cpu = { merge: folder(m), vector: folder(v) };
}, 60_000);
afterAll(() => {
  fx?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('--device on this machine (Dawn asked first)', () => {
  it('gpu: where Dawn has a GPU, the same files as cpu; else exit 2, one line naming why, nothing written', { timeout: 90_000 }, async () => {
    const found = await dawnAdapter();
    const dir = out();
    const r = await studio(['merge', ...trio(), '--out', dir, '--device', 'gpu']);
    if ('none' in found) {
      expect([r.code, r.stderr]).toEqual([2, [`studio merge: --device gpu: ${found.none}. Use --device cpu (bit-identical) or auto.`]]);
      expect(existsSync(dir)).toBe(false);
      expect(readdirSync(work).filter((f) => f.includes('.partial'))).toEqual([]);
    } else {
      expect([r.code, r.stderr]).toEqual([0, [`studio: merging on the GPU: ${adapterName(found.adapter)} (Dawn, in a child process).`]]);
      expect(folder(dir)).toEqual(cpu.merge);
    }
  });

  it('auto: the same files as cpu, with one line saying which path and why', { timeout: 90_000 }, async () => {
    const found = await dawnAdapter();
    const dir = out();
    const r = await studio(['merge', ...trio(), '--out', dir, '--device', 'auto']);
    expect(r.code).toBe(0);
    expect(r.stderr).toEqual([
      'none' in found
        ? `studio: no usable GPU: ${found.none}; merging with the CPU path (bit-identical to the WGSL kernels).`
        : `studio: merging on the GPU: ${adapterName(found.adapter)} (Dawn, in a child process).`,
    ]);
    expect(folder(dir)).toEqual(cpu.merge);
  });
});

/** Pids of `pid`'s children, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((f) => /^\d+$/.test(f))
    .filter((f) => {
      try {
        // The field after the parenthesised command name (which may hold spaces) is the state, then ppid.
        const stat = readFileSync(`/proc/${f}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a GPU child whose CLI is killed', () => {
  it.runIf(process.platform === 'linux')('ends itself even while hung in a (simulated) Dawn call, within 3 s, and leaves no exchange file', { timeout: 60_000 }, async () => {
    const cli = spawn(process.execPath, [join(ROOT, 'bin/studio.js'), 'merge', ...trio(), '--out', out(), '--device', 'gpu'], {
      cwd: ROOT,
      env: { ...process.env, STUDIO_GPU_CHILD_FAULT: 'hang-adapter', STUDIO_GPU_WATCHDOG_MS: '60000' },
      stdio: 'ignore',
    });
    let child: number | undefined;
    for (let i = 0; i < 200 && child === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      child = childrenOf(cli.pid!)[0];
    }
    expect(child, 'the CLI started its GPU child').toBeDefined();
    await new Promise((r) => setTimeout(r, 3000)); // into the hang
    expect(alive(child!)).toBe(true);
    cli.kill('SIGKILL');
    const deadline = performance.now() + 3000;
    while (alive(child!) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(child!), `GPU child ${child} outlived its CLI`).toBe(false);
    // Nor does the chunk exchange file (chunk-exchange.ts) outlive them.
    expect(readdirSync('/dev/shm').filter((f) => f.startsWith(`studio-gpu-${cli.pid}-`))).toEqual([]);
  });
});

describe('the GPU child: on the machine\'s GPU, else on SwiftShader with the fallback allowed', () => {
  let swiftshader: Awaited<ReturnType<typeof dawnAdapter>>;
  /** The environment under which the child finds an adapter: none needed for a GPU (or lavapipe). */
  let childEnv: Record<string, string> | undefined;
  let noAdapter = '';
  beforeAll(async () => {
    const own = await dawnAdapter({}, true);
    swiftshader = await dawnAdapter(SWIFTSHADER, true);
    if (!('none' in own)) childEnv = { STUDIO_ALLOW_FALLBACK_ADAPTER: '1' };
    else if (!('none' in swiftshader)) childEnv = { ...SWIFTSHADER, STUDIO_ALLOW_FALLBACK_ADAPTER: '1' };
    else noAdapter = `${own.none}; through ${SWIFTSHADER_ICD} too`;
  }, 90_000);
  /** Skips only on Dawn's answer that there is no adapter, with and without the SwiftShader driver. */
  const needAdapter = (ctx: { skip(note: string): void }) => {
    if (!childEnv) ctx.skip(`Dawn answered that there is no adapter (${noAdapter})`);
    return childEnv!;
  };
  const needSwiftShader = (ctx: { skip(note: string): void }) => {
    if ('none' in swiftshader) ctx.skip(`Dawn finds no adapter through ${SWIFTSHADER_ICD} (${swiftshader.none})`);
  };

  it('--device gpu refuses it (slower than the CPU path): exit 2 naming the adapter', { timeout: 60_000 }, async (ctx) => {
    needSwiftShader(ctx);
    const dir = out();
    const r = await studio(['merge', ...trio(), '--out', dir, '--device', 'gpu'], SWIFTSHADER);
    expect(r.code).toBe(2);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^studio merge: --device gpu: the only adapter Dawn found is a software \(CPU\) one, google \/ swiftshader .*, which is slower than the CPU path\. Use --device cpu \(bit-identical\) or auto\.$/);
    expect(existsSync(dir)).toBe(false);
  });

  it('merge and vector --device gpu through the child give the same files as --device cpu', { timeout: 90_000 }, async (ctx) => {
    const env = needAdapter(ctx);
    const [m, v] = [out(), out()];
    const merged = await studio(['merge', ...trio(), '--out', m, '--device', 'gpu'], env);
    expect([merged.code, merged.stderr]).toEqual([0, [expect.stringMatching(/^studio: merging on the GPU: .+ \(Dawn, in a child process\)\.$/)]]);
    expect(JSON.parse(merged.stdout.at(-1)!)).toMatchObject({ merger: 'gpu', tensors: 26, mergedTensors: 26 });
    expect(folder(m)).toEqual(cpu.merge);
    const vector = await studio(['vector', '--sft', fx.model('tiny-qwen2-sft'), '--rl', fx.model('tiny-qwen2-rl'), '--out', v, '--device', 'gpu'], env);
    expect(vector.code).toBe(0);
    const got = folder(v);
    // The statistics report sums in another order on the GPU; the tensors themselves are bit-exact.
    for (const f of Object.keys(cpu.vector).filter((f) => f.endsWith('.safetensors'))) expect(got[f], f).toBe(cpu.vector[f]);
    expect(Object.keys(got)).toEqual(Object.keys(cpu.vector));
  });

  const NOTICE_AUTO = /^studio: no usable GPU: (.*); merging with the CPU path \(bit-identical to the WGSL kernels\)\.$/;
  const FAILED_AUTO = /^studio: the GPU path failed: (.*); merging the rest with the CPU path \(bit-identical\)\.$/;
  const cases: Array<{ fault: ChildFault; device: 'gpu' | 'auto'; adapter: boolean; reason: RegExp }> = [
    { fault: 'abort-adapter', device: 'gpu', adapter: false, reason: /^the Dawn GPU process crashed \(SIGABRT\) while looking for a GPU adapter$/ },
    { fault: 'hang-adapter', device: 'auto', adapter: false, reason: /^the Dawn GPU process did not finish looking for a GPU adapter within 3 s and was stopped$/ },
    { fault: 'abort-pipeline', device: 'auto', adapter: true, reason: /^the Dawn GPU process crashed \(SIGABRT\) while creating the merge pipeline$/ },
    { fault: 'hang-pipeline', device: 'gpu', adapter: true, reason: /^the Dawn GPU process did not finish creating the merge pipeline within 10 s and was stopped$/ },
    { fault: 'abort-chunk', device: 'gpu', adapter: true, reason: /^the Dawn GPU process crashed \(SIGABRT\) while merging model\.\S+$/ },
    { fault: 'abort-chunk', device: 'auto', adapter: true, reason: /^the Dawn GPU process crashed \(SIGABRT\) while merging model\.\S+$/ },
    { fault: 'hang-chunk', device: 'gpu', adapter: true, reason: /^the Dawn GPU process did not answer within 10 s and was stopped while merging model\.\S+$/ },
    { fault: 'hang-chunk', device: 'auto', adapter: true, reason: /^the Dawn GPU process did not answer within 10 s and was stopped while merging model\.\S+$/ },
  ];
  for (const { fault, device, adapter, reason } of cases) {
    const outcome = device === 'gpu' ? 'exit 2 with the reason, nothing written' : 'the CPU path finishes, the same files as cpu';
    it(`a child that does "${fault}" is stopped by the watchdog; --device ${device}: ${outcome}, within ${LIMIT_S} s`, { timeout: 90_000 }, async (ctx) => {
      // The adapter faults strike before Dawn is asked, so they need no adapter at all.
      const env = adapter ? needAdapter(ctx) : {};
      const dir = out();
      const r = await studio(['merge', ...trio(), '--out', dir, '--device', device], {
        ...env,
        STUDIO_GPU_WATCHDOG_MS: String(WATCHDOG_MS(fault)),
        STUDIO_GPU_CHILD_FAULT: fault,
      });
      expect(r.seconds).toBeLessThan(LIMIT_S);
      const started = adapter && fault.endsWith('chunk') ? [expect.stringMatching(/^studio: merging on the GPU: /)] : [];
      if (device === 'gpu') {
        expect(r.code).toBe(2);
        expect(r.stderr.slice(0, -1)).toEqual(started);
        const m = /^studio merge: --device gpu: (.*?)\. (?:Nothing was saved; use|Use) --device cpu \(bit-identical\) or auto\.$/.exec(r.stderr.at(-1)!);
        expect(m?.[1], r.stderr.at(-1)).toMatch(reason);
        expect(existsSync(dir)).toBe(false);
      } else {
        expect(r.code).toBe(0);
        expect(r.stderr.slice(0, -1)).toEqual(started);
        const m = (fault.endsWith('chunk') ? FAILED_AUTO : NOTICE_AUTO).exec(r.stderr.at(-1)!);
        expect(m?.[1], r.stderr.at(-1)).toMatch(reason);
        expect(folder(dir)).toEqual(cpu.merge);
      }
    });
  }
});
