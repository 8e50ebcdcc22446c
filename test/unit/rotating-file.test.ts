import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RotatingFile } from '../../src/daemon/rotating-file.js';

it('rotates by size, keeps `keep` old files, and loses no line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'socktrace-rotate-'));
  const path = join(dir, 'socktrace.log');
  const file = new RotatingFile(path, 1000, 2);
  const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(80) })}\n`;
  for (let i = 0; i < 50; i++) file.write(line(i));
  await file.close();
  expect(readdirSync(dir).sort()).toEqual(['socktrace.log', 'socktrace.log.1', 'socktrace.log.2']);
  expect(existsSync(`${path}.3`)).toBe(false);
  // The newest lines are all there, in order, across the current file and the kept ones.
  const kept = [`${path}.2`, `${path}.1`, path].flatMap((p) => readFileSync(p, 'utf8').split('\n').filter(Boolean));
  const numbers = kept.map((l) => (JSON.parse(l) as { i: number }).i);
  expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, k) => 50 - numbers.length + k));
  expect(numbers.at(-1)).toBe(49);
  for (const p of [`${path}.1`, `${path}.2`]) expect(readFileSync(p).length).toBeGreaterThanOrEqual(1000);
});
