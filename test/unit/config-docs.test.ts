// The configuration's documentation cannot drift from the schema: the example file writes out every
// key, README's table lists every key with its default and whether SIGHUP applies it, and every key
// README names exists.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { leafPaths, restartOnlyPaths } from '../../src/config/config-schema.js';
import { DAEMON_SCHEMA, DEFAULT_DAEMON_CONFIG } from '../../src/config/daemon-config.js';
import { configKeyRows } from '../support/config-key-table.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');

/** Dotted paths of every leaf in a parsed YAML document (lists are leaves). */
function documentPaths(value: unknown, path = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [path];
  return Object.entries(value).flatMap(([k, v]) => documentPaths(v, path ? `${path}.${k}` : k));
}

describe('configuration docs', () => {
  it('marks what a reload cannot apply in the schema', () => {
    expect(restartOnlyPaths(DAEMON_SCHEMA)).toEqual([
      'tracer.ringBytes',
      'tracer.ownerEntries',
      'tracer.hooks',
      'tracer.acceptHooks',
      'tracer.timeWaitOwners',
      'tracer.serviceTimings',
      'tracer.closeWaitDelaySeconds',
      'tracer.backend',
      'core.maxSockets',
    ]);
  });

  it('packaging/socktrace.yaml writes out every key, in the order of the schema', () => {
    const file = parseAllDocuments(readFileSync(new URL('packaging/socktrace.yaml', root), 'utf8'))[0]!.toJS();
    expect(documentPaths(file)).toEqual(leafPaths(DAEMON_SCHEMA));
  });

  it("README's table lists every key, its default and whether SIGHUP applies it", () => {
    const section = readme.split('### Configuration keys')[1]?.split('\n## ')[0] ?? '';
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    // On failure, the expected rows are the table to paste.
    expect(rows.join('\n')).toEqual(configKeyRows(DAEMON_SCHEMA, DEFAULT_DAEMON_CONFIG).join('\n'));
  });

  it('every configuration key README names exists', () => {
    const sections = Object.keys(DEFAULT_DAEMON_CONFIG).join('|');
    const named = [...readme.matchAll(new RegExp(`\`((?:${sections})\\.[A-Za-z.]+)\``, 'g'))].map((m) => m[1]!);
    const known = new Set(leafPaths(DAEMON_SCHEMA));
    expect(named.length).toBeGreaterThan(10);
    expect([...new Set(named)].filter((k) => !known.has(k))).toEqual([]);
  });
});
