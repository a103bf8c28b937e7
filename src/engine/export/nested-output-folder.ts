import type { OutputFolder } from '../merge/output/output-folder.ts';

/**
 * One output folder with subfolders, made of flat ones: `create('onnx/model.onnx')` goes to the
 * `onnx` folder's `model.onnx`, anything without a slash to the root. For the browser's File
 * System Access folders, which are flat (fs-access-output-folder.ts): the root is the export's
 * folder and each subfolder an output folder inside it. Subfolders commit before the root, and
 * aborting the root removes the subfolders with it (they live inside it); each is aborted too.
 */
export function nestedOutputFolder(root: OutputFolder, subfolders: Record<string, OutputFolder>): OutputFolder {
  const route = (name: string): [OutputFolder, string] => {
    const slash = name.indexOf('/');
    if (slash < 0) return [root, name];
    const sub = subfolders[name.slice(0, slash)];
    if (!sub) throw new Error(`no output subfolder for ${name}`);
    return [sub, name.slice(slash + 1)];
  };
  return {
    label: root.label,
    create(name) {
      const [folder, rest] = route(name);
      return folder.create(rest);
    },
    async commit() {
      for (const sub of Object.values(subfolders)) await sub.commit();
      await root.commit();
    },
    async abort() {
      for (const sub of Object.values(subfolders)) await sub.abort().catch(() => {});
      await root.abort();
    },
  };
}
