/** The refused-handshake hook runs only while accept queues overflow, and is not asked for where it cannot attach. */
import { expect, it } from 'vitest';
import { REFUSALS_WATCH_MS, RefusalWatch } from '../../src/live/refusal-watch.js';

it('attaches at the first overflow, stays a minute after the last, then detaches', () => {
  const calls: boolean[] = [];
  const w = new RefusalWatch((on) => (calls.push(on), on));
  w.sample(0, false);
  w.sample(1000, false);
  expect(calls).toEqual([]); // at rest: never attached
  w.sample(2000, true);
  expect(w.active).toBe(true);
  w.sample(30_000, true);
  w.sample(30_000 + REFUSALS_WATCH_MS - 1, false);
  expect(calls).toEqual([true]);
  w.sample(30_000 + REFUSALS_WATCH_MS, false);
  expect(calls).toEqual([true, false]);
  expect(w.active).toBe(false);
  w.sample(200_000, true);
  expect(calls).toEqual([true, false, true]);
});

it('asks once where the hook cannot attach (the bpftrace backend, a kernel before 6.15)', () => {
  const calls: boolean[] = [];
  const w = new RefusalWatch((on) => (calls.push(on), false));
  w.sample(0, true);
  w.sample(1000, true);
  w.sample(REFUSALS_WATCH_MS * 3, false);
  w.sample(REFUSALS_WATCH_MS * 4, true);
  expect(calls).toEqual([true]);
  expect(w.active).toBe(false);
});
