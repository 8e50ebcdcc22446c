/** Loads a recorded event stream (test/fixtures/*.json) and decodes it as the live source would. */
import { readFileSync } from 'node:fs';
import { decodeBatch } from '../../src/events/decode-batch.js';
import type { SockEvent } from '../../src/events/sock-event.js';

export interface RecordedStream<Meta> {
  meta: Meta & { rstReasons: string[]; records: number };
  events: SockEvent[];
  rejected: number;
}

export function loadRecordedStream<Meta>(name: string): RecordedStream<Meta> {
  const fixture = JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as Meta & {
    rstReasons: string[];
    records: number;
    base64: string;
  };
  const bytes = Buffer.from(fixture.base64, 'base64');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const { events, rejected } = decodeBatch(buffer, fixture.records, { rstReasons: fixture.rstReasons });
  return { meta: fixture, events, rejected };
}

/** Kernel time of an event in ms: the core's default clock in tests. */
export function eventMs(e: SockEvent): number {
  return Number(e.tsNs / 1_000_000n);
}
