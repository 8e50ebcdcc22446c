import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/daemon/rate-limiter.js';

describe('log rate limiting', () => {
  it('passes the first records of a key, folds the rest into one counted record', () => {
    const rl = new RateLimiter<{ n: number }>(10_000, 2);
    const passed = [0, 1, 2, 3, 4].map((n) => rl.admit('epipe|42|198.18.0.2', () => ({ n }), 1000 + n));
    expect(passed).toEqual([true, true, false, false, false]);
    expect(rl.drain(5000)).toEqual([]); // the window is still open
    expect(rl.drain(11_000)).toEqual([{ sample: { n: 2 }, repeated: 3, firstMs: 1002, lastMs: 1004 }]);
    expect(rl.admit('epipe|42|198.18.0.2', () => ({ n: 9 }), 11_001)).toBe(true); // a new window
  });

  it('keeps keys apart and reports everything held back at shutdown', () => {
    const rl = new RateLimiter<string>(60_000, 1);
    rl.admit('a', () => 'a1', 0);
    rl.admit('a', () => 'a2', 1);
    rl.admit('b', () => 'b1', 2);
    rl.admit('b', () => 'b2', 3);
    rl.admit('b', () => 'b3', 4);
    expect(rl.drain(5, true).map((f) => [f.sample, f.repeated])).toEqual([
      ['a2', 1],
      ['b2', 2],
    ]);
  });

  it('never loses a count when too many keys compete: the oldest window closes early', () => {
    const rl = new RateLimiter<string>(60_000, 1, 2);
    rl.admit('a', () => 'a1', 0);
    rl.admit('a', () => 'a2', 0);
    rl.admit('b', () => 'b1', 0);
    rl.admit('c', () => 'c1', 0); // evicts a, whose held record is reported
    expect(rl.drain(1).map((f) => [f.sample, f.repeated])).toEqual([['a2', 1]]);
  });
});
