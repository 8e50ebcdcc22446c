import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/core/bounded-map.js';

describe('BoundedMap', () => {
  it('evicts the least recently touched entry at its cap, and counts it', () => {
    const m = new BoundedMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.touch('a'); // a is now the most recent; b the least
    m.touch('a'); // touching the most recent again changes nothing
    m.set('d', 4);
    expect([...m.entries()].map(([k]) => k)).toEqual(['c', 'a', 'd']);
    expect(m.evictions).toBe(1);
    m.upsert('c', () => 0); // c moves to the end
    m.set('e', 5);
    expect([...m.entries()].map(([k]) => k)).toEqual(['d', 'c', 'e']);
    expect(m.evictions).toBe(2);
  });

  it('still reorders a key that was deleted and set again after being the newest', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.delete('a');
    m.set('b', 2);
    m.set('a', 1);
    m.touch('b');
    m.set('c', 3);
    expect([...m.entries()].map(([k]) => k)).toEqual(['b', 'c']);
  });
});
