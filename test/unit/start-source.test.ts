/** `--backend auto` falls back to bpftrace only when the addon cannot run, never over the user's own settings. */
import { expect, it } from 'vitest';
import { startSource } from '../../src/backends/start-source.js';

it('refuses options the addon rejects instead of falling back to bpftrace', async () => {
  // 12K is no power of two: the addon's constructor refuses it before touching the kernel.
  const started = startSource({ ringBytes: 12 * 1024, backend: 'auto' }, { onEvents: () => {}, onLost: () => {} });
  await expect(started).rejects.toThrow(/your settings, not this host: .*ringBytes to be a power of two/);
});
