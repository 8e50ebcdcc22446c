/** The /proc scan for socket owners, on a made-up /proc. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { scanProcesses } from '../../src/inventory/process-scan.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('does not count a process gone between the listing of /proc and the read of its fds as unreadable', () => {
  root = mkdtempSync(path.join(tmpdir(), 'socktrace-proc-'));
  mkdirSync(path.join(root, '10', 'fd'), { recursive: true });
  symlinkSync('socket:[4242]', path.join(root, '10', 'fd', '3'));
  writeFileSync(path.join(root, '10', 'comm'), 'server\n');
  mkdirSync(path.join(root, '11')); // listed, then gone: no fd directory (ENOENT)
  const scan = scanProcesses(root, null);
  expect(scan.unreadable).toBe(0);
  expect(scan.processes.map((p) => p.pid)).toEqual([10]);
  expect(scan.socketOwners.get(4242)).toEqual([10]);
});
