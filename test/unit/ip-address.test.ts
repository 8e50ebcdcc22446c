import { describe, expect, it } from 'vitest';
import { formatIPv6, parseIP } from '../../src/events/ip-address.js';
import { cidrContains, parseCidr } from '../../src/events/cidr.js';

const v6 = (text: string) => formatIPv6(parseIP(text)!);

describe('IPv6 text (RFC 5952)', () => {
  it.each([
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of equal runs wins
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:DB8::AB', '2001:db8::ab'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
  ])('%s -> %s', (input, expected) => {
    expect(v6(input)).toBe(expected);
  });

  it('shows IPv4-mapped addresses as IPv4', () => {
    const bytes = new Uint8Array(16);
    bytes.set([0xff, 0xff, 198, 18, 0, 1], 10);
    expect(formatIPv6(bytes)).toBe('198.18.0.1');
    expect(parseIP('::ffff:198.18.0.1')).toEqual(Uint8Array.from([198, 18, 0, 1]));
  });

  it('refuses text that is not an address', () => {
    expect(parseIP('1.2.3')).toBeNull();
    expect(parseIP('2001:::1')).toBeNull();
    expect(parseIP('example.com')).toBeNull();
  });
});

describe('--peer ranges', () => {
  it('matches addresses inside IPv4 and IPv6 ranges only', () => {
    const v4 = parseCidr('198.18.0.0/15');
    expect(cidrContains(v4, '198.19.255.1')).toBe(true);
    expect(cidrContains(v4, '198.20.0.1')).toBe(false);
    expect(cidrContains(v4, '2001:2::1')).toBe(false);
    const six = parseCidr('2001:2::/48');
    expect(cidrContains(six, '2001:2:0:ffff::9')).toBe(true);
    expect(cidrContains(six, '2001:3::1')).toBe(false);
  });

  it('treats a bare address as a single host and odd prefixes bit by bit', () => {
    expect(cidrContains(parseCidr('198.18.0.2'), '198.18.0.2')).toBe(true);
    expect(cidrContains(parseCidr('198.18.0.2'), '198.18.0.3')).toBe(false);
    expect(cidrContains(parseCidr('198.18.0.0/31'), '198.18.0.1')).toBe(true);
    expect(cidrContains(parseCidr('198.18.0.0/31'), '198.18.0.2')).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), '203.0.113.9')).toBe(true);
  });

  it('names the bad value in its error', () => {
    expect(() => parseCidr('198.18.0.0/33')).toThrow(/prefix length in "198.18.0.0\/33"/);
    expect(() => parseCidr('nonsense/8')).toThrow(/"nonsense\/8" is not an IP address/);
    expect(() => parseCidr('198.18.0.0/8/1')).toThrow(/is not an IP address/);
    expect(() => parseCidr('198.18.0.0/x')).toThrow(/prefix length/);
  });
});
