#!/usr/bin/env node
// The socktrace command: runs the compiled CLI (npm run build compiles src/ into dist/).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/commands/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('socktrace: not built yet; run `bash scripts/setup` (or `npm run build`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
