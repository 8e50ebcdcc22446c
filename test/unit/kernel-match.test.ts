/** A watch's filters as the kernel matches them: never narrower than user space's. */
import { expect, it } from 'vitest';
import { parseCidr } from '../../src/events/cidr.js';
import { kernelMatchFor } from '../../src/events/kernel-match.js';

it('passes ports and pids as they are, IPv4 ranges as their IPv4-mapped IPv6 ranges', () => {
  const m = kernelMatchFor({ ports: [8080, 443], pids: [100], peers: [parseCidr('198.18.0.0/15'), parseCidr('2001:2::/48')] });
  expect(m.ports).toEqual([8080, 443]);
  expect(m.pids).toEqual([100]);
  expect(m.peers![0]).toEqual({ addr: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 0]), prefixlen: 111 });
  expect(m.peers![1]!.prefixlen).toBe(48);
  expect([...m.peers![1]!.addr.subarray(0, 4)]).toEqual([0x20, 0x01, 0x00, 0x02]);
});

it('leaves --comm to user space when a name is not compared byte for byte (escaped, or too long)', () => {
  expect(kernelMatchFor({ comms: ['nginx', 'python3'] }).comms!.map((c) => Buffer.from(c).toString())).toEqual(['nginx', 'python3']);
  expect(kernelMatchFor({ comms: ['nginx', 'caf\\xc3\\xa9'] }).comms).toBeUndefined();
  expect(kernelMatchFor({ comms: ['漢字サーバ'] }).comms).toBeUndefined();
  expect(kernelMatchFor({})).toEqual({});
});
