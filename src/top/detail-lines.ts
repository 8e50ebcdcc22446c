/**
 * The detail pane for the selected row: its findings, its peers, its latest timeline entries. Lines come
 * in blocks (a finding and its explanation, the timeline and its header) that are shown or left out
 * whole, so the pane never ends on a header without its entries or in the middle of a remedy.
 */
import type { ConnectionStory, Finding } from '../core/summary-model.js';
import type { ViewName } from './top-columns.js';
import type { PeerRow, ProcessRow, ServiceRow, TopSnapshot } from './top-snapshot.js';
import { displayWidth, terminalSafe } from './terminal-text.js';

export interface PaneLine {
  text: string;
  tone?: 'critical' | 'warning' | 'dim' | 'title';
}

export type PaneBlock = PaneLine[];

type AnyRow = ProcessRow | PeerRow | ServiceRow;

/**
 * Words into lines of at most `width` cells (a word wider than that gets a line of its own). Escaped
 * first: an escape is wider than the character it stands for, and the line must hold it.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of terminalSafe(text).split(/\s+/)) {
    if (!word) continue;
    if (line && displayWidth(line) + 1 + displayWidth(word) > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * What to do, from an explanation: findings explain first and end on the remedy, one sentence
 * ("Fix the leak first; raising LimitNOFILE only delays the outage.").
 */
export function remedyOf(explanation: string): string {
  const sentences = explanation.trim().split(/(?<=[.!?])\s+(?=[A-Z])/);
  return sentences.at(-1) ?? explanation;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** Steps whose kernel wording misleads without a word of context. */
function stepNote(step: string, detail: string | undefined): string {
  // tcp_timewait_state_process answers data for a connection already closed here: the RST comes from
  // the TIME_WAIT remnant, not from a live socket or the application.
  if (step === 'rst_sent' && detail === 'TCP_TIMEWAIT_SOCKET') return ' (late data for a connection already closed here: its TIME_WAIT remnant answered with RST)';
  return '';
}

function timelineBlock(stories: ConnectionStory[], limit: number, width: number): PaneBlock {
  const entries = stories
    .flatMap((s) => s.timeline.map((t) => ({ s, t })))
    .sort((a, b) => a.t.atMs - b.t.atMs)
    .slice(-limit);
  if (entries.length === 0) return [];
  const lines: PaneLine[] = [{ text: 'latest timeline:', tone: 'dim' }];
  for (const { s, t } of entries) {
    const text =
      `${clock(t.atMs)} ${s.peer.addr}:${s.peer.port} ${t.step}${t.detail ? ` ${t.detail}` : ''}` +
      (t.repeats ? ` ×${t.repeats + 1} until ${clock(t.lastAtMs ?? t.atMs)}` : '') +
      (t.afterPeerCloseMs !== undefined ? ` (+${(t.afterPeerCloseMs / 1000).toFixed(3)} s after the peer closed)` : '') +
      stepNote(t.step, t.detail);
    const tone = t.step.endsWith('error') || t.step.startsWith('rst') ? ('warning' as const) : undefined;
    lines.push(...wrapText(text, width - 2).map((l, i) => ({ text: i === 0 ? l : `  ${l}`, tone })));
  }
  return lines;
}

/** An outage seen by several findings: its chain, and (whole) its story, before the findings themselves. */
function incidentBlock(findings: Finding[], width: number, brief: Brevity): PaneBlock {
  const incident = findings.find((f) => f.incident)?.incident;
  if (!incident) return [];
  const head: PaneLine = { text: `[${incident.severity}] one outage: ${incident.chain.join(' → ')}`, tone: incident.severity };
  if (brief === 2) return [head];
  return [head, ...wrapText(incident.story, width - 2).map((text) => ({ text: `  ${text}` }))];
}

/** Brief: the title and the remedy; else the title and the whole explanation (which ends on the remedy). */
function findingBlock(f: Finding, width: number, brief: Brevity): PaneBlock {
  const body = brief ? `what to do: ${remedyOf(f.explanation)}` : f.explanation;
  return [{ text: `[${f.severity}] ${f.title}`, tone: f.severity }, ...wrapText(body, width - 2).map((text) => ({ text: `  ${text}` }))];
}

/** Findings that concern a listening port: about the port, or about a process holding its listener. */
export function serviceFindings(findings: Finding[], s: Pick<ServiceRow, 'port' | 'listenerPids'>): Finding[] {
  return findings.filter((f) => f.subject.port === s.port || (f.subject.pid !== undefined && s.listenerPids.includes(f.subject.pid)));
}

/** 0: everything whole; 1: each finding as its title and remedy; 2: also the incident as its chain alone. */
export type Brevity = 0 | 1 | 2;

/** The pane's blocks, first the row's title; briefer for a pane too small for everything. */
export function detailBlocks(view: ViewName, row: AnyRow | undefined, snapshot: TopSnapshot, width: number, brief: Brevity = 0): PaneBlock[] {
  if (!row) return [[{ text: 'nothing selected', tone: 'dim' }]];
  const { processPeers, stories } = snapshot.summary;
  let title: string;
  let findings: Finding[];
  let related: PaneLine[];
  let ownStories: ConnectionStory[];
  if (view === 'processes') {
    const p = row as ProcessRow;
    title = `${p.comm} (pid ${p.pid})${p.where !== '-' ? ` in ${p.where}` : ''}${p.cmdline ? `  ${p.cmdline}` : ''}`;
    findings = snapshot.findings.filter((f) => f.subject.pid === p.pid);
    const peers = processPeers.rows.filter((pp) => pp.pid === p.pid).slice(0, 4);
    related = peers.length
      ? [{ text: `peers: ${peers.map((pp) => `${pp.peer} (CW ${pp.closeWait.count}, ESTAB ${pp.sockets.ESTABLISHED ?? 0}, EPIPE+RST/s ${pp.activity.errors.epipeEconnresetPerSecond10s})`).join('  ')}` }]
      : [];
    const served = snapshot.services.filter((s) => s.timings && s.listenerPids.includes(p.pid)).slice(0, 2);
    related.push(...served.map((s) => ({ text: `port ${s.port}: ${s.timings}` })));
    ownStories = stories.filter((s) => s.owners.some((o) => o.pid === p.pid));
  } else if (view === 'peers') {
    const p = row as PeerRow;
    title = `peer ${p.peer}${p.seenFrom ? `: ${p.seenFrom}` : ''}`;
    findings = snapshot.findings.filter((f) => f.subject.peer === p.peer || f.subject.peer?.startsWith(`${p.peer}:`));
    const procs = processPeers.rows.filter((pp) => pp.peer === p.peer).slice(0, 4);
    related = procs.length
      ? [{ text: `processes: ${procs.map((pp) => `${pp.comm}/${pp.pid} (CW ${pp.closeWait.count}, ESTAB ${pp.sockets.ESTABLISHED ?? 0})`).join('  ')}` }]
      : [];
    ownStories = stories.filter((s) => s.peer.addr === p.peer);
  } else {
    const s = row as ServiceRow;
    title = `port ${s.port} (netns ${s.netns})  listeners: ${s.listeners || 'unknown'}  accept queue: ${s.acceptQueue}`;
    findings = serviceFindings(snapshot.findings, s);
    related = s.timings ? [{ text: `last minute: ${s.timings}` }] : [];
    ownStories = stories.filter((st) => st.local.port === s.port);
  }
  const timeline = timelineBlock(ownStories, 4, width);
  const wrapped = (l: PaneLine): PaneBlock => wrapText(l.text, width).map((text, i) => ({ ...l, text: i === 0 ? text : `  ${text}` }));
  return [
    [{ text: title, tone: 'title' as const }],
    incidentBlock(findings, width, brief),
    ...findings.map((f) => findingBlock(f, width, brief)),
    ...related.map(wrapped),
    timeline,
    findings.length === 0 && related.length === 0 && timeline.length === 0 ? [{ text: 'no findings, no recent RSTs or errors', tone: 'dim' as const }] : [],
  ].filter((b): b is PaneBlock => b.length > 0);
}
