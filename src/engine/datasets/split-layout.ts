import type { RepoFile } from './dataset.ts';

/**
 * Which files of a dataset repo hold which config and split. Two sources, as the `datasets`
 * library reads them:
 *
 * 1. The dataset card's `configs` (README.md YAML front matter; the Hub returns it as `cardData`):
 *    `- config_name: main / data_files: [{split: test, path: main/test-*}]`. When present it is
 *    the whole truth — `openai/gsm8k`, `allenai/sciq` and `openai/openai_humaneval` are laid out
 *    this way (`main/test-00000-of-00001.parquet`, `data/test-00000-of-00001.parquet`,
 *    `openai_humaneval/test-00000-of-00001.parquet`).
 * 2. Without it, the file names, in the layouts the Hub writes:
 *    - `{config}/{split}/0000.parquet` — the parquet converter's branch `refs/convert/parquet`
 *      (e.g. `lukaemon/bbh`, a loading-script repo: `boolean_expressions/test/0000.parquet`);
 *    - `{config}/{dataset}-{split}.parquet` and `…-{split}-00000-of-00002.parquet` — the converter's
 *      layout before mid-2023, still in old commits;
 *    - `{config}/{split}-00000-of-00001.parquet` and `data/{split}-00000-of-00001.parquet` (config
 *      `default`) — `push_to_hub`, whose card usually names them anyway.
 *
 * Data files in other formats (JSON, CSV) are kept in the layout, so a caller can tell "this split
 * exists but not as parquet" (then the converter's branch has it) from "no such split".
 */
export type SplitLayout = Map<string, Map<string, RepoFile[]>>;

/** The card's `configs`, normalised: config name → split → glob patterns. Undefined when the card has none. */
export function cardConfigs(cardData: unknown): Map<string, Map<string, string[]>> | undefined {
  const configs = (cardData as { configs?: unknown } | null | undefined)?.configs;
  if (!Array.isArray(configs) || configs.length === 0) return undefined;
  const out = new Map<string, Map<string, string[]>>();
  for (const c of configs) {
    if (!c || typeof c !== 'object') continue;
    const { config_name, data_files, data_dir } = c as { config_name?: unknown; data_files?: unknown; data_dir?: unknown };
    const name = typeof config_name === 'string' ? config_name : 'default';
    const splits = new Map<string, string[]>();
    const add = (split: string, paths: unknown) => {
      const list = typeof paths === 'string' ? [paths] : Array.isArray(paths) ? paths.filter((p): p is string => typeof p === 'string') : [];
      if (list.length) splits.set(split, [...(splits.get(split) ?? []), ...list]);
    };
    if (typeof data_files === 'string' || (Array.isArray(data_files) && data_files.every((x) => typeof x === 'string'))) {
      add('train', data_files); // a bare pattern (or list of them) is the train split
    } else if (Array.isArray(data_files)) {
      for (const entry of data_files) {
        const { split, path } = (entry ?? {}) as { split?: unknown; path?: unknown };
        add(typeof split === 'string' ? split : 'train', path);
      }
    } else if (data_files && typeof data_files === 'object') {
      for (const [split, paths] of Object.entries(data_files)) add(split, paths);
    } else if (typeof data_dir === 'string') {
      // A config that only names a folder: the file-name conventions apply inside it.
      splits.set('*', [`${data_dir.replace(/\/+$/, '')}/**`]);
    }
    out.set(name, splits);
  }
  return out;
}

/** fsspec-style glob (`*` and `?` stay within a folder, `**` crosses folders, `[…]` classes) as an anchored RegExp. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else {
        re += '.*';
      }
    } else if (ch === '*') {
      re += '[^/]*';
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
      } else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else {
      re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

const SHARD = String.raw`-\d{5}-of-\d{5}(?:-[0-9a-f]{16})?`;
const CONVERTED = /^([^/]+)\/([^/]+)\/\d+\.parquet$/;
const PUSHED_IN_FOLDER = new RegExp(String.raw`^([^/]+)/([A-Za-z0-9_]+)${SHARD}\.parquet$`);
const PUSHED_AT_ROOT = new RegExp(String.raw`^([A-Za-z0-9_]+)${SHARD}\.parquet$`);

/** The config and split a parquet file's name places it in, by the Hub's own layouts; undefined if none does. */
function inferSplit(path: string, datasetName: string): { config: string; split: string } | undefined {
  let m = CONVERTED.exec(path);
  if (m) return { config: m[1], split: m[2] };
  m = PUSHED_IN_FOLDER.exec(path);
  if (m) return { config: m[1] === 'data' ? 'default' : m[1], split: m[2] };
  m = PUSHED_AT_ROOT.exec(path);
  if (m) return { config: 'default', split: m[1] };
  const slash = path.indexOf('/');
  const base = path.slice(slash + 1);
  if (slash > 0 && !base.includes('/') && base.startsWith(`${datasetName}-`) && base.endsWith('.parquet')) {
    const rest = base.slice(datasetName.length + 1, -'.parquet'.length).replace(new RegExp(`${SHARD}$`), '');
    if (/^[A-Za-z0-9_]+$/.test(rest)) return { config: path.slice(0, slash), split: rest };
  }
  return undefined;
}

const isParquet = (f: RepoFile) => f.path.endsWith('.parquet');

/**
 * Config → split → files (sorted by path, so shards come in order) for one commit's listing.
 * `datasetName` is the repo's name part (`gsm8k` for `openai/gsm8k`), which the converter's
 * old file names start with.
 */
export function splitLayout(files: readonly RepoFile[], cardData: unknown, datasetName: string): SplitLayout {
  const layout: SplitLayout = new Map();
  const put = (config: string, split: string, file: RepoFile) => {
    let splits = layout.get(config);
    if (!splits) layout.set(config, (splits = new Map()));
    let list = splits.get(split);
    if (!list) splits.set(split, (list = []));
    if (!list.includes(file)) list.push(file);
  };
  const configs = cardConfigs(cardData);
  if (configs) {
    for (const [config, splits] of configs) {
      layout.set(config, new Map());
      for (const [split, patterns] of splits) {
        const res = patterns.map(globRegExp);
        const matched = files.filter((f) => res.some((re) => re.test(f.path)));
        if (split === '*') {
          // data_dir: the splits are named by the files inside the folder.
          const prefix = patterns[0].slice(0, -'**'.length);
          for (const f of matched.filter(isParquet)) {
            const s = inferSplit(f.path.slice(prefix.length), datasetName);
            if (s) put(config, s.split, f);
          }
        } else {
          for (const f of matched) put(config, split, f);
        }
      }
    }
  } else {
    for (const f of files.filter(isParquet)) {
      const s = inferSplit(f.path, datasetName);
      if (s) put(s.config, s.split, f);
    }
  }
  for (const splits of layout.values()) for (const list of splits.values()) list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return layout;
}

/** The parquet files of one config/split, or [] when the layout has none. */
export function parquetFilesOf(layout: SplitLayout, config: string, split: string): RepoFile[] {
  return (layout.get(config)?.get(split) ?? []).filter(isParquet);
}

/** Config → its split names, for error messages. */
export function availableSplits(...layouts: SplitLayout[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const layout of layouts) {
    for (const [config, splits] of layout) {
      out[config] ??= new Set();
      for (const split of splits.keys()) out[config].add(split);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([c, s]) => [c, [...s].sort()]));
}
