/**
 * What happened, per rollup key (a process, a peer, a process-peer pair, a service): totals since start
 * and per-second windows for rates. Sockets come and go; these counts outlive them.
 */
import { RateWindow } from './rate-window.js';

export interface WriteAfterCloseSample {
  atMs: number;
  /** Time from the peer's FIN to the failed write or the RST it drew. */
  delayMs: number;
  delayIsLowerBound: boolean;
  peer: string;
  sock: string;
}

export class ActivityCounters {
  /** The process name last seen with this key (kept for processes whose sockets are all gone). */
  name = '';
  readonly rstSentByReason = new Map<string, number>();
  rstReceived = 0;
  readonly errorsByErrno = new Map<string, number>();
  opened = 0;
  closed = 0;
  readonly rstSentWindow = new RateWindow();
  readonly rstReceivedWindow = new RateWindow();
  readonly errorWindow = new RateWindow();
  /** EPIPE and ECONNRESET only: the "broken pipe" family an application sees after the peer left. */
  readonly brokenWindow = new RateWindow();
  readonly openedWindow = new RateWindow();
  readonly closedWindow = new RateWindow();
  /** The latest writes after the peer closed (bounded), for the write-after-close finding. */
  readonly writesAfterClose: WriteAfterCloseSample[] = [];
  writesAfterCloseTotal = 0;
  /** accept() failing for want of a resource: by errno, by listening address, and when. */
  readonly acceptErrorsByErrno = new Map<string, number>();
  readonly acceptErrorsByListener = new Map<string, number>();
  readonly acceptErrorWindow = new RateWindow();
  acceptErrorsFirstMs: number | null = null;
  acceptErrorsLastMs: number | null = null;
  /** Segments sent again; of them SYNs (a connect no one answered yet). */
  retransmits = 0;
  synRetransmits = 0;
  readonly retransmitWindow = new RateWindow();
  /** Connections the kernel ended with an error (not an RST); of them connects that timed out. */
  readonly connectionErrorsByErrno = new Map<string, number>();
  connectTimeouts = 0;
  readonly connectTimeoutWindow = new RateWindow();
  /** Connects that timed out, by the peer's port (a few; past the bound under 0). */
  readonly connectTimeoutsByPort = new Map<number, number>();

  rstSent(atMs: number, reason: string): void {
    this.rstSentByReason.set(reason, (this.rstSentByReason.get(reason) ?? 0) + 1);
    this.rstSentWindow.add(atMs);
  }

  rstReceivedAt(atMs: number): void {
    this.rstReceived++;
    this.rstReceivedWindow.add(atMs);
  }

  error(atMs: number, errno: string): void {
    this.errorsByErrno.set(errno, (this.errorsByErrno.get(errno) ?? 0) + 1);
    this.errorWindow.add(atMs);
    if (errno === 'EPIPE' || errno === 'ECONNRESET') this.brokenWindow.add(atMs);
  }

  acceptFailed(atMs: number, errno: string, listener: string, maxListeners = 16): void {
    this.acceptErrorsByErrno.set(errno, (this.acceptErrorsByErrno.get(errno) ?? 0) + 1);
    // A process listens on a few addresses; past the bound the rest are counted under "other".
    const key = this.acceptErrorsByListener.has(listener) || this.acceptErrorsByListener.size < maxListeners ? listener : 'other';
    this.acceptErrorsByListener.set(key, (this.acceptErrorsByListener.get(key) ?? 0) + 1);
    this.acceptErrorWindow.add(atMs);
    this.acceptErrorsFirstMs ??= atMs;
    this.acceptErrorsLastMs = Math.max(this.acceptErrorsLastMs ?? atMs, atMs);
  }

  retransmitted(atMs: number, syn: boolean): void {
    this.retransmits++;
    if (syn) this.synRetransmits++;
    this.retransmitWindow.add(atMs);
  }

  connectionFailed(atMs: number, errno: string, connecting: boolean, port: number, maxPorts = 16): void {
    this.connectionErrorsByErrno.set(errno, (this.connectionErrorsByErrno.get(errno) ?? 0) + 1);
    if (connecting && errno === 'ETIMEDOUT') {
      this.connectTimeouts++;
      this.connectTimeoutWindow.add(atMs);
      const key = this.connectTimeoutsByPort.has(port) || this.connectTimeoutsByPort.size < maxPorts ? port : 0;
      this.connectTimeoutsByPort.set(key, (this.connectTimeoutsByPort.get(key) ?? 0) + 1);
    }
  }

  openedAt(atMs: number): void {
    this.opened++;
    this.openedWindow.add(atMs);
  }

  closedAt(atMs: number): void {
    this.closed++;
    this.closedWindow.add(atMs);
  }

  wroteAfterClose(sample: WriteAfterCloseSample, keep = 64): void {
    this.writesAfterCloseTotal++;
    this.writesAfterClose.push(sample);
    if (this.writesAfterClose.length > keep) this.writesAfterClose.shift();
  }

  get rstSentTotal(): number {
    let n = 0;
    for (const v of this.rstSentByReason.values()) n += v;
    return n;
  }
}
