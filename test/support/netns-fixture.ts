/** One network-namespace peer for a describe block: created before its tests, removed after them. */
import { afterAll, beforeAll } from 'vitest';
import { createNetnsPeer, removeStaleNamespaces, type NetnsPeer } from './netns.js';

export function useNetnsPeer(): () => NetnsPeer {
  let peer: NetnsPeer | undefined;
  beforeAll(async () => {
    await removeStaleNamespaces();
    peer = await createNetnsPeer();
  });
  afterAll(async () => {
    await peer?.cleanup();
  });
  return () => {
    if (!peer) throw new Error('the network namespace peer is not set up (used outside its describe block?)');
    return peer;
  };
}
