import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { kernelCountsTracepointMisses, tracepointMisses } from '../../src/backends/bpf-prog-misses.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

it("sums the skipped runs of a process's tracepoint programs, and nothing else", () => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-proc-'));
  const fdinfo = join(root, '42', 'fdinfo');
  mkdirSync(fdinfo, { recursive: true });
  const prog = (type: number, misses: number) =>
    `pos:\t0\nflags:\t02000002\nprog_type:\t${type}\nprog_jited:\t1\nprog_id:\t7\nrun_cnt:\t0\nrecursion_misses:\t${misses}\n`;
  writeFileSync(join(fdinfo, '3'), prog(5, 130)); // tracepoint
  writeFileSync(join(fdinfo, '4'), prog(5, 65));
  writeFileSync(join(fdinfo, '5'), prog(7, 9)); // perf_event (the heartbeat): writes no events
  writeFileSync(join(fdinfo, '6'), 'pos:\t0\nflags:\t02\nmnt_id:\t1\n'); // not a program
  expect(tracepointMisses(42, root)).toBe(195);
  expect(tracepointMisses(43, root)).toBe(0);
});

it('knows which kernels count skipped tracepoint program runs (6.7 and later)', () => {
  expect(kernelCountsTracepointMisses('6.18.44')).toBe(true);
  expect(kernelCountsTracepointMisses('6.7.0-rc1')).toBe(true);
  expect(kernelCountsTracepointMisses('7.0.1')).toBe(true);
  expect(kernelCountsTracepointMisses('6.6.30-generic')).toBe(false);
  expect(kernelCountsTracepointMisses('6.1.0-56-amd64')).toBe(false);
  expect(kernelCountsTracepointMisses('garbage')).toBe(false);
});
