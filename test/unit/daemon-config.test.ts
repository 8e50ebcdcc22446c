import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMON_SCHEMA, DEFAULT_DAEMON_CONFIG, mergeConfig, type DaemonConfigPatch } from '../../src/config/daemon-config.js';
import { ConfigError, loadConfigFile } from '../../src/config/load-config.js';
import type { Schema } from '../../src/config/config-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'socktrace-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const load = (path: string) => loadConfigFile<DaemonConfigPatch>(path, DAEMON_SCHEMA);

describe('daemon configuration files', () => {
  it('reads YAML and JSON, and merges defaults <- file <- flags', () => {
    const yaml = load(file('a.yaml', 'metrics:\n  listen: 127.0.0.1:9999\nlog:\n  maxBytes: 10M\n  rateLimit:\n    maxPerKey: 2\ncore:\n  thresholds:\n    closeWaitAgeSeconds: 5\n'));
    const merged = mergeConfig(DEFAULT_DAEMON_CONFIG, yaml, { log: { file: '/tmp/x.log' } });
    expect(merged.metrics).toEqual({ listen: '127.0.0.1:9999', maxProcesses: 50 });
    expect(merged.log.maxBytes).toBe(10 * 1024 * 1024);
    expect(merged.log.rateLimit).toEqual({ windowSeconds: 10, maxPerKey: 2 });
    expect(merged.log.file).toBe('/tmp/x.log');
    expect(merged.core.thresholds.closeWaitAgeSeconds).toBe(5);
    expect(merged.core.thresholds.closeWaitMinSockets).toBe(5);
    const json = load(file('b.json', '{"tracer": {"hooks": "classic", "states": ["CLOSE_WAIT"]}}'));
    expect(mergeConfig(DEFAULT_DAEMON_CONFIG, json).tracer).toMatchObject({ hooks: 'classic', states: ['CLOSE_WAIT'] });
    expect(mergeConfig(DEFAULT_DAEMON_CONFIG, load(file('empty.yaml', '')))).toEqual(DEFAULT_DAEMON_CONFIG);
  });

  it.each([
    ['unknown key', 'metrics:\n  lisen: 127.0.0.1:9\n', /bad\.yaml: metrics\.lisen: unknown key; known here: listen, maxProcesses/],
    ['wrong type', 'log:\n  rateLimit:\n    maxPerKey: many\n', /log\.rateLimit\.maxPerKey: expected a whole number from 1 to 1000000, got string "many"/],
    ['bad enum in a list', 'log:\n  events: [rst_sent, rst_recieved]\n', /log\.events\[1\]: expected one of .*rst_received.*got string "rst_recieved"/],
    ['bad size', 'tracer:\n  ringBytes: huge\n', /tracer\.ringBytes: expected a power of two like 8M/],
    ['bad listen', 'metrics:\n  listen: localhost\n', /metrics\.listen: expected host:port/],
    ['unknown threshold', 'core:\n  thresholds:\n    closeWaitAge: 3\n', /core\.thresholds\.closeWaitAge: unknown key/],
    ['not an object', '- 1\n- 2\n', /\(top level\): expected an object/],
    ['YAML syntax', 'metrics: [\n', /not valid YAML \(line \d+\)/],
    ['duplicate key', 'log:\n  keep: 1\n  keep: 2\n', /not valid YAML/],
    // Validated as `watch --ring-bytes` is: the addon would refuse it, and auto would fall back to bpftrace.
    ['a ring that is not a power of two', 'tracer:\n  ringBytes: 12K\n', /tracer\.ringBytes: expected a power of two like 8M or 4194304 from 4096 to 1073741824 bytes, got string "12K"/],
    ['a summary every microsecond', 'log:\n  summarySeconds: 0.000001\n', /log\.summarySeconds: expected 0 \(no summaries\) or a number from 1 to 86400, got number 0\.000001/],
    ['a sweep every microsecond', 'tracer:\n  closeWaitDelaySeconds: 0.000001\n', /tracer\.closeWaitDelaySeconds: expected 0 \(report every CLOSE_WAIT as it happens\) or a number from 0\.1 to 3600/],
    ['a ratio that can never fire', 'core:\n  thresholds:\n    fdWarnRatio: 2\n', /core\.thresholds\.fdWarnRatio: expected a number from 0\.01 to 1, got number 2/],
    ['a minimum that always fires', 'core:\n  thresholds:\n    closeWaitMinSockets: 0\n', /core\.thresholds\.closeWaitMinSockets: expected a whole number from 1 to/],
    ['a log rotated every record', 'log:\n  maxBytes: 100\n', /log\.maxBytes: expected a size/],
    ['a table of one socket', 'core:\n  maxSockets: 1\n', /core\.maxSockets: expected a whole number from 1024/],
  ])('refuses %s, naming the file and the key', (_, text, message) => {
    const path = file('bad.yaml', text);
    let error: unknown;
    try {
      load(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(path);
  });

  it('bounds every numeric key at both ends', () => {
    const bounded = (schema: Schema, path: string): string[] => {
      if (schema.kind === 'object') return Object.entries(schema.fields).flatMap(([k, f]) => bounded(f, path ? `${path}.${k}` : k));
      if (schema.kind === 'list') return bounded(schema.of, path);
      if (schema.kind === 'int' || schema.kind === 'number' || schema.kind === 'size') {
        return schema.min > 0 && Number.isFinite(schema.max) ? [] : [path];
      }
      return [];
    };
    // closeWaitAgeSeconds may be 0 (any CLOSE_WAIT counts); keep 0 keeps no rotated files.
    expect(bounded(DAEMON_SCHEMA, '')).toEqual(['log.keep', 'core.thresholds.closeWaitAgeSeconds']);
    expect(mergeConfig(DEFAULT_DAEMON_CONFIG, load(file('zero.yaml', 'log:\n  summarySeconds: 0\ntracer:\n  closeWaitDelaySeconds: 0\n'))).log.summarySeconds).toBe(0);
  });

  it('serves metrics on localhost only unless told otherwise', () => {
    expect(DEFAULT_DAEMON_CONFIG.metrics.listen).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('says when the file cannot be read', () => {
    expect(() => load(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read it: ENOENT/);
  });
});
