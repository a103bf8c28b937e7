import { resolve } from 'node:path';
import { openHubDataset } from '../engine/datasets/index.ts';
import { readDatasetFile } from '../engine/datasets/node.ts';
import { BBH_GROUP, getTask, selectItems, type AnyTask, type ItemSelection } from '../engine/eval/index.ts';
import { nodeCacheStore } from '../engine/sources/cache/node-cache-store.ts';
import { UsageError } from './command.ts';
import { downloadBoard } from './open-source.ts';

/** The items a CLI run gives a task, and where they came from (for the results file). */
export interface TaskItems {
  task: AnyTask;
  items: { index: number; doc: unknown }[];
  /** `hf:datasets/…` with config and split, a local file's absolute path, or the built-in set. */
  source: string;
  /** The commit a Hub dataset resolved to; null for local or built-in items. */
  revision: string | null;
  /** Rows in the split (the items are `selectItems(originalSize, selection)`). */
  originalSize: number;
}

/** `bbh_cot_fewshot` names its 27 subtasks; duplicates are dropped; unknown names are refused with the nearest. */
export function taskList(raw: string): AnyTask[] {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('--task needs at least one task name.');
  const out = new Map<string, AnyTask>();
  for (const n of names) {
    const expanded = n === BBH_GROUP.name ? BBH_GROUP.subtasks : [n];
    for (const e of expanded) out.set(e, getTask(e));
  }
  return [...out.values()];
}

/**
 * A task's items: from `data` (a local .jsonl/.parquet with the dataset's own fields), from the
 * task's own rows (the studio's demo task), or from its Hub dataset pinned to a commit and
 * cached in $STUDIO_CACHE_DIR; then chosen by `selection`.
 */
export async function loadTaskItems(task: AnyTask, data: string | undefined, selection: ItemSelection): Promise<TaskItems> {
  let rows: readonly unknown[];
  let source: string;
  let revision: string | null = null;
  if (data) {
    rows = await readDatasetFile(data, { requiredFields: task.fields, purpose: task.name });
    source = resolve(data);
  } else if (task.builtinRows) {
    rows = task.builtinRows();
    source = `built-in (${task.dataset.path})`;
  } else {
    const ds = await openHubDataset({
      repo: task.dataset.path,
      config: task.dataset.name ?? undefined,
      split: task.dataset.split,
      hubUrl: process.env.HF_ENDPOINT || undefined,
      accessToken: process.env.HF_TOKEN || undefined,
      cache: nodeCacheStore(),
      requiredFields: task.fields,
      purpose: task.name,
      onProgress: downloadBoard().reporter(`hf:datasets/${task.dataset.path}`),
    });
    rows = ds.rows;
    source = `${ds.label} (config ${ds.config}, split ${ds.split})`;
    revision = ds.revision;
  }
  const where = (i: number) => `${data ?? `${task.dataset.path} ${task.dataset.split}`} row ${i}`;
  const items = selectItems(rows.length, selection).map((index) => ({ index, doc: task.readDoc(rows[index], where(index)) }));
  if (items.length === 0) throw new UsageError(`${task.name}: ${data ?? task.dataset.path} has no items.`);
  return { task, items, source, revision, originalSize: rows.length };
}
