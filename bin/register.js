// Loads TypeScript (tsx) and `?raw` imports in Node: `node --import ./bin/register.js file.ts`.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-import-hooks.js', import.meta.url);
