/** The /proc/net/tcp{,6} reader on lines recorded from this kernel (Linux 6.18). */
import { expect, it } from 'vitest';
import { parseProcNetTcp } from '../../src/inventory/procfs-sockets.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1145 1 000000002eeaccc4 100 0 0 10 0
   1: 0100007F:8691 0100007F:9440 06 00000000:00000000 03:000007CE 00000000     0        0 0 3 00000000afdfcbc8
   2: garbage
   3: 0100007F:B7A3 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 2207 1 000000002eeaccc4 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 02000120F25500000000000001000000:876B 02000120F25500000000000002000000:98F0 08 00000000:00000000 00:00000000 00000000  1000        0 125520577 1 000000007047cc80 20 4 28 10 -1
`;

it('reads IPv4 sockets: a listener by inode, a TIME_WAIT by its 4-tuple with its age from the timer', () => {
  const { sockets, unparsed } = parseProcNetTcp(TCP, 4, 4026531833);
  expect(unparsed).toBe(1);
  expect(sockets[0]).toMatchObject({ sock: 'inode:1145', state: 'LISTEN', local: { addr: '0.0.0.0', port: 2024 }, inode: 1145 });
  expect(sockets[1]).toMatchObject({
    sock: '4026531833:127.0.0.1:34449-127.0.0.1:37952',
    state: 'TIME_WAIT',
    local: { addr: '127.0.0.1', port: 34449 },
    peer: { addr: '127.0.0.1', port: 37952 },
    inode: 0,
  });
  expect(sockets[1]!.ageLowerBoundMs).toBe(60_000 - 0x7ce * 10);
});

it("reads a listener's accept queue from rx_queue (5 waiting), with no limit: /proc/net/tcp does not carry listen()'s", () => {
  const { sockets } = parseProcNetTcp(TCP, 4, 4026531833);
  expect(sockets[0]!.acceptQueue).toEqual({ length: 0, limit: null });
  expect(sockets[2]).toMatchObject({ state: 'LISTEN', local: { addr: '127.0.0.1', port: 0xb7a3 }, acceptQueue: { length: 5, limit: null } });
  expect(sockets[1]!.acceptQueue).toBeNull();
});

it('reads IPv6 sockets: a CLOSE_WAIT in 2001:2::/48, with its owner uid', () => {
  const { sockets } = parseProcNetTcp(TCP6, 6, 4026532500);
  expect(sockets[0]).toMatchObject({
    sock: 'inode:125520577',
    family: 6,
    netns: 4026532500,
    state: 'CLOSE_WAIT',
    uid: 1000,
    local: { addr: '2001:2:0:55f2::1', port: 0x876b },
    peer: { addr: '2001:2:0:55f2::2', port: 0x98f0 },
    ageLowerBoundMs: null,
  });
});

it('counts a socket listed twice once (a read that raced the table lists some twice)', () => {
  const twice = TCP + TCP.split('\n').slice(2, 3).join('\n') + '\n';
  const { sockets } = parseProcNetTcp(twice, 4, 4026531833);
  expect(sockets.filter((s) => s.state === 'TIME_WAIT')).toHaveLength(1);
  expect(sockets).toHaveLength(parseProcNetTcp(TCP, 4, 4026531833).sockets.length);
});
