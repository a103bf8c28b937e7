// Node module hooks giving the CLI what Vite gives the page: `import src from './x.wgsl?raw'`
// yields the file's text, so each WGSL kernel stays one .wgsl file for both shells.
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('?raw')) {
    const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', shortCircuit: true, source: `export default ${JSON.stringify(text)};` };
  }
  return nextLoad(url, context);
}
