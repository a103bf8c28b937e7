#!/usr/bin/env node
// The CLI shell runs the TypeScript engine directly through tsx: no build step between a
// checkout and `npx studio`.
import './register.js';

await import('../src/cli/main.ts');
