/**
 * One event as its JSON line, written out field by field: `watch` prints up to hundreds of thousands a
 * second, and building toEventRecord's object only to have a serializer walk it again cost most of its
 * time. The text is exactly `JSON.stringify({ level: 'info', ...toEventRecord(e) })` (a test holds the
 * two together), so event-record.ts stays the one description of the contract. An unfiltered watch
 * has the addon make the same text natively (native/line_formatter.cc; test/unit/native-lines.test.ts).
 */
import type { SockEvent } from '../events/sock-event.js';
import type { WallClock } from '../events/monotonic-clock.js';
import type { Placement } from '../core/placement.js';
import { placementFields, type PlacementOf } from './event-record.js';

/** A JSON string literal. Names are escaped already (events/kernel-text.ts) but may hold \ and ". */
const quote = JSON.stringify as (text: string) => string;

/** Returns the line maker for one clock; it remembers the last millisecond's ISO text (events bunch). */
export function eventLineMaker(clock: WallClock, placementOf?: PlacementOf): (e: SockEvent) => string {
  // A placement's text, made once per placement (the reader hands back the same object while cached).
  const texts = new WeakMap<Placement, string>();
  const unknown = placementText(null);
  const placed = (p: Placement | null) => {
    if (!p) return unknown;
    let text = texts.get(p);
    if (text === undefined) texts.set(p, (text = placementText(p)));
    return text;
  };
  let lastMs = Number.NaN;
  let lastIso = '';
  const isoOf = (ms: number) => {
    const whole = Math.floor(ms);
    if (whole !== lastMs) {
      lastMs = whole;
      lastIso = new Date(whole).toISOString();
    }
    return lastIso;
  };
  return (e) => {
    const o = e.owner;
    let line =
      `{"level":"info","time":"${isoOf(clock.toEpochMs(e.tsNs))}","event":"${e.kind}","proc":` +
      (o ? `{"pid":${o.pid},"comm":${quote(o.comm)},"uid":${o.uid},"via":"${o.source}"${placementOf ? placed(placementOf(o)) : ''}}` : 'null') +
      `,"local":{"addr":"${e.local.addr}","port":${e.local.port}},"peer":{"addr":"${e.peer.addr}","port":${e.peer.port}}` +
      `,"sock":${e.noSocket || e.sock === '0' ? 'null' : `"${e.sock}"`}` +
      `,"task":{"pid":${e.task.pid},"comm":${quote(e.task.comm)}},"netns":${e.netns}`;
    if (e.kind === 'state_change') line += `,"from":"${e.oldState ?? 'UNKNOWN'}","to":"${e.state ?? 'UNKNOWN'}"`;
    else if (e.state) line += `,"state":"${e.state}"`;
    if (e.reason) line += `,"reason":${quote(e.reason)}`;
    if (e.errno) line += `,"errno":${quote(e.errno)}`;
    if (e.noSocket) line += ',"no_socket":true';
    if (e.deferred) line += ',"deferred":true';
    if (e.unanswered) line += ',"unanswered":true';
    return `${line}}\n`;
  };
}

/** The placement fields as they follow `via` in a line (keys in placementFields' order). */
export function placementText(p: Placement | null): string {
  return `,${JSON.stringify(placementFields(p)).slice(1, -1)}`;
}
