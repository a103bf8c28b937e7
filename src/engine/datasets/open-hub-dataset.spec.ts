import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetInfo } from '@huggingface/hub';
import { benchmarkDatasets, benchmarksDir, parquetBytes, writeBenchmarkDatasets, type BenchmarkDataset } from '../../../test-support/benchmark-datasets.ts';
import { startMockHub, type MockHub } from '../../../test-support/mock-hub/server.ts';
import { rejection } from '../../../test-support/rejection.ts';
import { HubError } from '../errors.ts';
import { memoryCacheStore, type CacheStore } from '../sources/cache/cache-store.ts';
import { downloadWithResume } from '../sources/cache/download-with-resume.ts';
import { nodeCacheStore } from '../sources/cache/node-cache-store.ts';
import { DatasetFieldError, DatasetFileError, DatasetSplitNotFoundError } from './dataset-errors.ts';
import { openHubDataset, type OpenHubDatasetParams } from './open-hub-dataset.ts';

const BENCHMARKS = benchmarksDir();
const GATED = 'studio-fixtures/gated-gsm8k';
const TOKEN = 'hf_mock_gated_dataset_token';
const WRONG_TOKEN = 'hf_wrong_secret_1234567890';

let tmp: string;
let mock: MockHub;
let sources: BenchmarkDataset[];

const source = (repo: string, config: string) => sources.find((d) => d.repo === repo && d.config === config)!;
const open = (p: Omit<OpenHubDatasetParams, 'hubUrl'>) => openHubDataset({ hubUrl: mock.url, ...p });
/** The commit the mock serves for a dataset ref, asked the way the Hub client asks. */
const commitOf = async (repo: string, revision = 'main') =>
  (await datasetInfo({ name: repo, hubUrl: mock.url, revision, additionalFields: ['sha'] })).sha;
/** Requests made while `fn` runs. */
async function requestsDuring(fn: () => Promise<unknown>) {
  const before = mock.requests.length;
  await fn();
  return mock.requests.slice(before);
}

// The samples live outside the repo (../shared/benchmarks); without them there is nothing to serve.
describe.skipIf(!existsSync(BENCHMARKS))(`Hub datasets from ${BENCHMARKS}`, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'studio-datasets-'));
    sources = benchmarkDatasets(BENCHMARKS);
    const datasets = writeBenchmarkDatasets(join(tmp, 'repos'), BENCHMARKS);

    // A repo without a card whose split is sharded in two, the second shard sorting last.
    const sharded = join(tmp, 'sharded');
    const gsm = source('openai/gsm8k', 'main');
    mkdirSync(join(sharded, 'data'), { recursive: true });
    writeFileSync(join(sharded, 'data', 'test-00000-of-00002.parquet'), parquetBytes(gsm.columns, gsm.rows.slice(0, 120)));
    writeFileSync(join(sharded, 'data', 'test-00001-of-00002.parquet'), parquetBytes(gsm.columns, gsm.rows.slice(120)));

    mock = await startMockHub({
      repos: {},
      datasets: { ...datasets, [GATED]: datasets['openai/gsm8k'], 'studio-fixtures/sharded': sharded },
      gated: { [`datasets/${GATED}`]: TOKEN },
    });
  });

  afterAll(async () => {
    await mock?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  beforeEach(() => mock.clearFaults());

  describe('the four benchmark repos, laid out as on the Hub', () => {
    const cases = [
      { repo: 'openai/gsm8k', config: 'main', columns: ['question', 'answer'] },
      { repo: 'allenai/sciq', config: 'default', columns: ['question', 'distractor3', 'distractor1', 'distractor2', 'correct_answer', 'support'] },
      { repo: 'openai/openai_humaneval', config: 'openai_humaneval', columns: ['task_id', 'prompt', 'canonical_solution', 'test', 'entry_point'] },
    ];
    for (const c of cases) {
      it(`${c.repo} ${c.config}/test: every row equals the source sample, pinned to main's commit`, async () => {
        const want = source(c.repo, c.config);
        const ds = await open({ repo: c.repo, config: c.config, split: 'test', cache: memoryCacheStore() });
        expect(ds.rows.length).toBe(want.rows.length);
        expect(ds.rows[0]).toEqual(want.rows[0]);
        expect(ds.rows).toEqual(want.rows);
        expect(ds.columns).toEqual(c.columns);
        const sha = await commitOf(c.repo);
        expect(ds.revision).toBe(sha);
        expect(ds.revision).toMatch(/^[0-9a-f]{40}$/);
        expect(ds.ref).toBe('main');
        expect(ds.label).toBe(`hf://datasets/${c.repo}@${sha}`);
        const dir = c.config === 'default' ? 'data' : c.config;
        expect(ds.files.map((f) => f.path)).toEqual([`${dir}/test-00000-of-00001.parquet`]);
      });
    }

    it('gsm8k: 200 rows whose first row is the first line of test_first200.jsonl', async () => {
      const ds = await open({ repo: 'openai/gsm8k', config: 'main', split: 'test' });
      expect(ds.rows).toHaveLength(200);
      const { readFileSync } = await import('node:fs');
      const firstLine = JSON.parse(readFileSync(join(BENCHMARKS, 'gsm8k', 'test_first200.jsonl'), 'utf8').split('\n')[0]);
      expect(ds.rows[0]).toEqual(firstLine);
    });

    it('lukaemon/bbh: each subtask config read from refs/convert/parquet, pinned to that branch\'s commit', async () => {
      const subtasks = sources.filter((d) => d.repo === 'lukaemon/bbh');
      expect(subtasks.length).toBeGreaterThanOrEqual(6);
      const conversion = await commitOf('lukaemon/bbh', 'refs/convert/parquet');
      expect(conversion).not.toBe(await commitOf('lukaemon/bbh'));
      const cache = memoryCacheStore();
      for (const want of subtasks) {
        const ds = await open({ repo: 'lukaemon/bbh', config: want.config, split: 'test', cache });
        expect(ds.rows).toHaveLength(want.rows.length);
        expect(ds.rows[0]).toEqual(want.rows[0]);
        expect(ds.rows).toEqual(want.rows);
        expect(ds.columns).toEqual(['input', 'target']);
        expect(ds.revision).toBe(conversion);
        expect(ds.ref).toBe('refs/convert/parquet');
        expect(ds.files.map((f) => f.path)).toEqual([`${want.config}/test/0000.parquet`]);
      }
    });

    it('a split sharded in several files is read in shard order', async () => {
      const ds = await open({ repo: 'studio-fixtures/sharded', split: 'test' });
      expect(ds.config).toBe('default');
      expect(ds.files.map((f) => f.path)).toEqual(['data/test-00000-of-00002.parquet', 'data/test-00001-of-00002.parquet']);
      expect(ds.rows).toEqual(source('openai/gsm8k', 'main').rows);
    });
  });

  describe('caching and pinning', () => {
    it('a second open of main asks only for the commit; pinned to the commit it makes no request at all', async () => {
      const cache = memoryCacheStore();
      const first = await requestsDuring(() => open({ repo: 'openai/gsm8k', config: 'main', split: 'test', cache }));
      expect(first.filter((r) => r.url.includes('.parquet')).length).toBeGreaterThan(0);
      expect(first.some((r) => r.url.includes('/tree/'))).toBe(true);

      let again!: Awaited<ReturnType<typeof open>>;
      const second = await requestsDuring(async () => (again = await open({ repo: 'openai/gsm8k', config: 'main', split: 'test', cache })));
      expect(second.map((r) => r.url.split('?')[0])).toEqual(['/api/datasets/openai/gsm8k/revision/main']);
      expect(again.rows).toEqual(source('openai/gsm8k', 'main').rows);

      const pinned = await requestsDuring(() => open({ repo: 'openai/gsm8k', config: 'main', split: 'test', revision: again.revision, cache }));
      expect(pinned).toEqual([]);
    });

    it('bbh pinned to its conversion commit opens from the cache with no request, and from a fresh cache without the fallback', async () => {
      const cache = memoryCacheStore();
      const ds = await open({ repo: 'lukaemon/bbh', config: 'navigate', split: 'test', cache });
      const pinned = await requestsDuring(() => open({ repo: 'lukaemon/bbh', config: 'navigate', split: 'test', revision: ds.revision, cache }));
      expect(pinned).toEqual([]);

      let fresh!: Awaited<ReturnType<typeof open>>;
      const log = await requestsDuring(async () => (fresh = await open({ repo: 'lukaemon/bbh', config: 'navigate', split: 'test', revision: ds.revision })));
      expect(fresh.revision).toBe(ds.revision);
      expect(fresh.ref).toBe(ds.revision);
      expect(fresh.rows).toEqual(ds.rows);
      // The commit holds the files itself: no second info call for refs/convert/parquet.
      expect(log.filter((r) => r.url.includes('/revision/')).map((r) => r.url.split('?')[0])).toEqual([`/api/datasets/lukaemon/bbh/revision/${ds.revision}`]);
    });

    it('the Node cache folder serves a second process-like open (new store instance) with no parquet or tree request', async () => {
      const dir = join(tmp, 'node-cache');
      const a = await open({ repo: 'allenai/sciq', split: 'test', cache: nodeCacheStore(dir) });
      const log = await requestsDuring(() => open({ repo: 'allenai/sciq', split: 'test', cache: nodeCacheStore(dir) }));
      expect(log.filter((r) => r.url.includes('.parquet') || r.url.includes('/tree/'))).toEqual([]);
      expect(log).toHaveLength(1);
      const pinned = await requestsDuring(() => open({ repo: 'allenai/sciq', split: 'test', revision: a.revision, cache: nodeCacheStore(dir) }));
      expect(pinned).toEqual([]);
      expect(existsSync(join(dir, 'datasets', 'allenai', 'sciq', a.revision, 'data', 'test-00000-of-00001.parquet'))).toBe(true);
    });

    it('a download cut mid-file resumes from the byte stored, reporting progress to the end', async () => {
      const path = 'main/test-00000-of-00001.parquet';
      mock.setFaults([{ kind: 'drop', afterBytes: 20_000, times: 2, repo: 'datasets/openai/gsm8k', path }]);
      const progress: number[] = [];
      let ds!: Awaited<ReturnType<typeof open>>;
      const log = await requestsDuring(async () => {
        ds = await open({ repo: 'openai/gsm8k', config: 'main', split: 'test', cache: memoryCacheStore(), onProgress: (p) => progress.push(p.bytesDone) });
      });
      expect(ds.rows).toEqual(source('openai/gsm8k', 'main').rows);
      const size = ds.files[0].size;
      expect(size).toBeGreaterThan(40_000);
      const ranges = log.filter((r) => r.url.endsWith(path)).map((r) => r.range);
      expect(ranges).toEqual([`bytes=0-${size - 1}`, `bytes=20000-${size - 1}`, `bytes=40000-${size - 1}`]);
      expect(progress.at(-1)).toBe(size);
    });

    it('a cached parquet file of the wrong size is fetched again; one of the right size that does not parse is reported and dropped', async () => {
      const cache: CacheStore = memoryCacheStore();
      const ds = await open({ repo: 'openai/gsm8k', config: 'main', split: 'test', cache });
      const key = `datasets/openai/gsm8k/${ds.revision}/main/test-00000-of-00001.parquet`;
      const plant = async (bytes: Uint8Array) => {
        await cache.remove(key);
        await downloadWithResume({ key, path: 'x', size: bytes.length, store: cache, readRange: (o, l, sink) => sink(bytes.subarray(o, o + l)) });
      };
      const pinned = () => open({ repo: 'openai/gsm8k', config: 'main', split: 'test', revision: ds.revision, cache });

      await plant(new TextEncoder().encode('short, so not this commit\'s file'));
      const log = await requestsDuring(async () => expect((await pinned()).rows).toEqual(ds.rows));
      expect(log.filter((r) => r.url.endsWith('.parquet')).length).toBeGreaterThan(0);

      await plant(new Uint8Array(ds.files[0].size).fill(0x41)); // bit rot: the size is right, the bytes are not
      const err = await rejection(pinned());
      expect(err).toBeInstanceOf(DatasetFileError);
      expect(err.message).toMatch(
        new RegExp(`^openai/gsm8k@${ds.revision.slice(0, 7)}/main/test-00000-of-00001\\.parquet: cannot be read as parquet \\(.+\\)\\. It was removed from the cache; opening the dataset again downloads it afresh\\.$`),
      );
      expect((await pinned()).rows).toEqual(ds.rows);
    });
  });

  describe('errors', () => {
    it('a gated dataset without a token names the repo and says where to set one', async () => {
      const err = await rejection(open({ repo: GATED, config: 'main', split: 'test' }));
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).status).toBe(401);
      expect((err as HubError).retryable).toBe(false);
      expect(err.message).toBe(
        `Dataset ${GATED}: the dataset is gated or private (HTTP 401). Accept its access conditions on ${mock.url}/datasets/${GATED}, ` +
          'then set a read token: HF_TOKEN for the command line, or the token in Settings in the page.',
      );
    });

    it('a gated dataset with a refused token says so without echoing the token; the right token reads it', async () => {
      const err = await rejection(open({ repo: GATED, config: 'main', split: 'test', accessToken: WRONG_TOKEN }));
      expect(err).toBeInstanceOf(HubError);
      expect(err.message).toBe(
        `Dataset ${GATED}: the Hub refused the token you set (HTTP 401). Accept the dataset's access conditions on ${mock.url}/datasets/${GATED} ` +
          'with the account the token belongs to, or use a token with read access: HF_TOKEN for the command line, or the token in Settings in the page.',
      );
      expect(err.message).not.toContain(WRONG_TOKEN);
      expect(String(err.stack)).not.toContain(WRONG_TOKEN);

      const ds = await open({ repo: GATED, config: 'main', split: 'test', accessToken: TOKEN });
      expect(ds.rows).toEqual(source('openai/gsm8k', 'main').rows);
      expect(ds.label).not.toContain(TOKEN);
      expect(JSON.stringify(mock.requests)).not.toContain(TOKEN);
    });

    it('a token that is not an hf_ token is refused before any request', async () => {
      const log = await requestsDuring(async () => {
        const err = await rejection(open({ repo: GATED, config: 'main', split: 'test', accessToken: 'not-a-token-xyz' }));
        expect(err.message).toBe('The Hugging Face token must start with "hf_"; copy it again from your Hub settings (Access Tokens).');
      });
      expect(log).toEqual([]);
    });

    it('a missing config is named with the configs there are', async () => {
      const err = await rejection(open({ repo: 'openai/gsm8k', config: 'socratic', split: 'test' }));
      expect(err).toBeInstanceOf(DatasetSplitNotFoundError);
      const sha = await commitOf('openai/gsm8k');
      expect(err.message).toBe(`openai/gsm8k@main (${sha.slice(0, 7)}) has no config "socratic". Its configs: main.`);
      expect((err as DatasetSplitNotFoundError).available).toEqual({ main: ['test'] });
    });

    it('a missing split is named with the splits of the config', async () => {
      const err = await rejection(open({ repo: 'openai/openai_humaneval', config: 'openai_humaneval', split: 'train' }));
      expect(err).toBeInstanceOf(DatasetSplitNotFoundError);
      expect(err.message).toMatch(/^openai\/openai_humaneval@main \([0-9a-f]{7}\), config "openai_humaneval", has no split "train"\. Its splits: test\.$/);
    });

    it('a missing bbh subtask lists the subtasks of the parquet conversion', async () => {
      const err = await rejection(open({ repo: 'lukaemon/bbh', config: 'navigte', split: 'test' }));
      expect(err).toBeInstanceOf(DatasetSplitNotFoundError);
      const subtasks = sources.filter((d) => d.repo === 'lukaemon/bbh').map((d) => d.config).sort();
      expect(err.message).toMatch(new RegExp(`has no config "navigte"\\. Its configs: ${subtasks.join(', ')}\\.$`));
    });

    it('an unknown repo is a 404 naming it', async () => {
      const err = await rejection(open({ repo: 'nobody/nothing', split: 'test' }));
      expect(err).toBeInstanceOf(HubError);
      expect(err.message).toBe('Dataset nobody/nothing@main: not found on the Hub (HTTP 404). Check the owner/name spelling and the revision.');
      const bad = await rejection(open({ repo: 'gsm8k', split: 'test' }));
      expect(bad.message).toBe('"gsm8k" is not a Hub dataset id; write it as owner/name (e.g. openai/gsm8k).');
    });

    it('a row without a field the task needs names the field, the row and the columns', async () => {
      const err = await rejection(open({ repo: 'openai/gsm8k', config: 'main', split: 'test', requiredFields: ['question', 'target'], purpose: 'gsm8k_cot' }));
      expect(err).toBeInstanceOf(DatasetFieldError);
      expect((err as DatasetFieldError).field).toBe('target');
      expect(err.message).toBe(
        'openai/gsm8k main/test row 0 (of 200): no field "target" (gsm8k_cot items need "question", "target"; this row has "question", "answer"). ' +
          "Rows must use the dataset's own field names.",
      );
    });

    it('a server error on the parquet file is retried and then reported as retryable', async () => {
      mock.setFaults([{ kind: 'status', status: 500, path: 'data/test-00000-of-00001.parquet' }]);
      const err = await rejection(open({ repo: 'allenai/sciq', split: 'test', cache: memoryCacheStore() }));
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).retryable).toBe(true);
      expect(err.message).toMatch(/^Dataset allenai\/sciq@[0-9a-f]{40}: the Hub answered HTTP 500\. This is usually temporary; retry in a moment\.$/);
    });
  });
});
