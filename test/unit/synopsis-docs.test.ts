/** README's synopsis of each command names exactly the flags its --help names: neither drifts alone. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DAEMON_USAGE } from '../../src/commands/daemon-command.js';
import { DOCTOR_USAGE } from '../../src/commands/doctor-command.js';
import { SNAPSHOT_USAGE } from '../../src/commands/snapshot-command.js';
import { TOP_USAGE } from '../../src/commands/top-command.js';
import { WATCH_USAGE } from '../../src/commands/options/watch-options.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const flags = (text: string) => [...new Set([...text.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]))].filter((f) => f !== '--help').sort();

/** The fenced block in README that starts with `socktrace <command>`. */
function synopsis(command: string): string {
  const block = [...readme.matchAll(/```\n(socktrace [\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(`socktrace ${command} `) || b.startsWith(`socktrace ${command}\n`));
  if (!block) throw new Error(`README has no synopsis block for socktrace ${command}`);
  return block;
}

it.each([
  ['watch', WATCH_USAGE],
  ['snapshot', SNAPSHOT_USAGE],
  ['top', TOP_USAGE],
  ['daemon', DAEMON_USAGE],
  ['doctor', DOCTOR_USAGE],
])("README's synopsis of %s names the flags its --help names", (command, usage) => {
  // Only the options part of --help: its prose may mention other commands' flags.
  expect(flags(synopsis(command))).toEqual(flags(usage));
});
