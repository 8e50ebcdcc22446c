/** Where the loader looks for the addon: an installed package's prebuild first, a checkout's own build first. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BindingLoadError, candidatePaths, prebuildPath } from '../../src/backends/native/binding.js';

let root: string;
const saved = process.env.SOCKTRACE_ADDON;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'socktrace-paths-'));
  delete process.env.SOCKTRACE_ADDON;
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  if (saved === undefined) delete process.env.SOCKTRACE_ADDON;
  else process.env.SOCKTRACE_ADDON = saved;
});

it('the prebuild sits where the Node-API convention puts it', () => {
  expect(prebuildPath(root, 'linux', 'x64')).toBe(join(root, 'prebuilds', 'linux-x64', 'node.napi.glibc.node'));
  expect(prebuildPath(root, 'linux', 'arm64')).toBe(join(root, 'prebuilds', 'linux-arm64', 'node.napi.glibc.node'));
});

it('an installed package tries its prebuild first, then a build', () => {
  expect(candidatePaths(root)).toEqual([
    prebuildPath(root),
    join(root, 'build', 'Release', 'socktrace.node'),
    join(root, 'build', 'Debug', 'socktrace.node'),
  ]);
});

it('a checkout (CMakeLists.txt) tries its own build before a staged prebuild', () => {
  writeFileSync(join(root, 'CMakeLists.txt'), '');
  expect(candidatePaths(root)).toEqual([
    join(root, 'build', 'Release', 'socktrace.node'),
    join(root, 'build', 'Debug', 'socktrace.node'),
    prebuildPath(root),
  ]);
});

it('SOCKTRACE_ADDON is the only path tried when set', () => {
  process.env.SOCKTRACE_ADDON = join(root, 'mine.node');
  expect(candidatePaths(root)).toEqual([join(root, 'mine.node')]);
});

it('the load error names every path tried and why', () => {
  const error = new BindingLoadError([
    { path: '/a/prebuilds/linux-x64/node.napi.glibc.node', error: 'not found' },
    { path: '/a/build/Release/socktrace.node', error: 'wrong ELF class' },
  ]);
  expect(error.message).toContain('  /a/prebuilds/linux-x64/node.napi.glibc.node: not found\n  /a/build/Release/socktrace.node: wrong ELF class');
});
