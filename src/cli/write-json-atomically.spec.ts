import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeUnfinishedOutputsSync } from '../engine/merge/output/node-output-folder.ts';
import { openJsonLinesFile, writeTextAtomically } from './write-json-atomically.ts';

/**
 * The CLI's atomic writers (results, samples.jsonl, plots) register their temporary files with the
 * list the SIGINT/SIGTERM handler empties (src/cli/interrupt.spec.ts stops real runs): an eval
 * interrupted while its samples stream in leaves no `.samples.jsonl.partial-…` behind, and a
 * file already renamed into place is never touched.
 */
const dir = mkdtempSync(join(tmpdir(), 'atomic-writers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hidden = () => readdirSync(dir).filter((f) => f.startsWith('.'));

describe('atomic writers and the interrupt list', () => {
  it('a samples file still being written is removed by the interrupt cleanup, and named as unsaved', async () => {
    const path = join(dir, 'samples.jsonl');
    const out = await openJsonLinesFile<{ i: number }>(path);
    expect(hidden()).toHaveLength(1);
    expect(removeUnfinishedOutputsSync()).toEqual([path]);
    expect(hidden()).toEqual([]);
    expect(existsSync(path)).toBe(false);
    await out.abort();
  });

  it('committed or finished files are off the list: the cleanup removes nothing and the files stay', async () => {
    const samples = join(dir, 'kept.jsonl');
    const out = await openJsonLinesFile<{ i: number }>(samples);
    out.write({ i: 2 });
    await out.commit();
    await writeTextAtomically(join(dir, 'results.json'), ['{"ok":', 'true}\n']);
    expect(removeUnfinishedOutputsSync()).toEqual([]);
    expect(readFileSync(samples, 'utf8')).toBe('{"i":2}\n');
    expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))).toEqual({ ok: true });
    expect(hidden()).toEqual([]);
  });
});
