/**
 * Standalone mock Hugging Face Hub for e2e tests:
 *   npx tsx scripts/mock-hub.ts --port 7861 --fixtures fixtures/models [--host 127.0.0.1] [--benchmarks <dir>]
 *
 * Serves every subfolder X of the fixtures dir as `studio-fixtures/X`, every subfolder of the sibling
 * `bad` dir as `studio-bad/X`, and `studio-fixtures/gated-model` (content of `tiny-qwen2-target`)
 * gated behind the token `hf_mock_gated_token`. Folders are re-scanned every second, so fixtures
 * generated after start-up show up. Control endpoints: POST/DELETE /__mock/faults, GET /__mock/requests.
 *
 * Dataset repos: when the benchmark samples exist (`--benchmarks`, else $STUDIO_BENCHMARKS_DIR, else
 * ../shared/benchmarks beside the repo root), they are written as parquet into a temporary folder at
 * start-up and served as `openai/gsm8k`, `allenai/sciq`, `openai/openai_humaneval` and `lukaemon/bbh`,
 * laid out like the real repos (test-support/benchmark-datasets.ts), plus `studio-fixtures/gated-dataset`
 * (gsm8k's content) gated behind the same token. Without the samples it serves models only.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseFlags } from '../src/cli/parse-flags.ts';
import { benchmarksDir, writeBenchmarkDatasets } from '../test-support/benchmark-datasets.ts';
import { startMockHub, type MockRepoRefs } from '../test-support/mock-hub/server.ts';

const GATED_REPO = 'studio-fixtures/gated-model';
const GATED_TOKEN = 'hf_mock_gated_token';
const GATED_DATASET = 'studio-fixtures/gated-dataset';

// The CLI's strict parser: a misspelt flag is refused, naming the nearest one.
const { flags } = (() => {
  try {
    return parseFlags(process.argv.slice(2), {
      port: { type: 'string' },
      host: { type: 'string' },
      fixtures: { type: 'string' },
      benchmarks: { type: 'string' },
    }, { context: 'mock-hub' });
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
})();
const arg = (name: string, fallback: string) => (flags.get(name) as string | undefined) ?? fallback;

const port = Number(arg('port', '7861'));
const host = arg('host', '127.0.0.1');
const fixtures = resolve(arg('fixtures', 'fixtures/models'));
const bad = join(dirname(fixtures), 'bad');

const subfolders = (dir: string) =>
  existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];

// The server reads this object live; refresh it in place.
const repos: Record<string, string> = {};
function refresh() {
  const next: Record<string, string> = {};
  for (const x of subfolders(fixtures)) next[`studio-fixtures/${x}`] = join(fixtures, x);
  for (const x of subfolders(bad)) next[`studio-bad/${x}`] = join(bad, x);
  next[GATED_REPO] = join(fixtures, 'tiny-qwen2-target');
  for (const k of Object.keys(repos)) if (!(k in next)) delete repos[k];
  Object.assign(repos, next);
}
refresh();
setInterval(refresh, 1000).unref();

if (!existsSync(fixtures)) console.error(`warning: fixtures folder ${fixtures} does not exist (yet)`);

const benchmarks = resolve((flags.get('benchmarks') as string | undefined) ?? benchmarksDir());
const datasetsDir = mkdtempSync(join(tmpdir(), 'mock-hub-datasets-'));
const removeDatasets = () => rmSync(datasetsDir, { recursive: true, force: true });
process.on('exit', removeDatasets);
let datasets: Record<string, MockRepoRefs> = {};
try {
  datasets = writeBenchmarkDatasets(datasetsDir, benchmarks);
} catch (e) {
  // Models are still worth serving: the e2e tests that need no dataset can run.
  console.error(`warning: cannot build dataset repos from ${benchmarks}: ${(e as Error).message}`);
}
if (datasets['openai/gsm8k']) datasets[GATED_DATASET] = datasets['openai/gsm8k'];
if (Object.keys(datasets).length > 0) console.log(`serving dataset repos ${Object.keys(datasets).join(', ')} made from ${benchmarks}`);
else console.error(`warning: no benchmark samples at ${benchmarks}: serving no dataset repos`);

const hub = await startMockHub({
  repos,
  datasets,
  port,
  host,
  gated: { [GATED_REPO]: GATED_TOKEN, [`datasets/${GATED_DATASET}`]: GATED_TOKEN },
});
console.log(`mock hub listening on ${hub.url}`);

const stop = () => void hub.close().finally(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
