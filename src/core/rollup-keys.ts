/** How sockets map to rollup keys. */
export function serviceKey(netns: number, port: number): string {
  return `${netns}|${port}`;
}

export function processPeerKey(pid: number, peer: string): string {
  return `${pid}|${peer}`;
}

/** Peers worth a rollup row: a listener's or an unconnected socket's "peer" is no one. */
export function hasPeer(s: { peer: { addr: string; port: number } }): boolean {
  return s.peer.port !== 0 && s.peer.addr !== '' && s.peer.addr !== '0.0.0.0' && s.peer.addr !== '::';
}
