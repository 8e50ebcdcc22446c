/** The detail pane's lines for the selected row: its findings, its peers, its latest timeline entries. */
import type { ConnectionStory, Finding } from '../core/summary-model.js';
import type { ViewName } from './top-columns.js';
import type { PeerRow, ProcessRow, ServiceRow, TopSnapshot } from './top-snapshot.js';

export interface PaneLine {
  text: string;
  tone?: 'critical' | 'warning' | 'dim' | 'title';
}

type AnyRow = ProcessRow | PeerRow | ServiceRow;

/** Words into lines of at most `width` characters. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function timelineLines(stories: ConnectionStory[], limit: number): PaneLine[] {
  const entries = stories
    .flatMap((s) => s.timeline.map((t) => ({ s, t })))
    .sort((a, b) => a.t.atMs - b.t.atMs)
    .slice(-limit);
  return entries.map(({ s, t }) => ({
    text:
      `${clock(t.atMs)} ${s.peer.addr}:${s.peer.port} ${t.step}${t.detail ? ` ${t.detail}` : ''}` +
      (t.repeats ? ` ×${t.repeats + 1} until ${clock(t.lastAtMs ?? t.atMs)}` : '') +
      (t.afterPeerCloseMs !== undefined ? ` (+${(t.afterPeerCloseMs / 1000).toFixed(3)} s after the peer closed)` : ''),
    tone: t.step.endsWith('error') || t.step.startsWith('rst') ? 'warning' : undefined,
  }));
}

/** An outage seen by several findings: its chain and story before the findings themselves. */
function incidentLines(findings: Finding[], width: number): PaneLine[] {
  const incident = findings.find((f) => f.incident)?.incident;
  if (!incident) return [];
  return [
    { text: `[${incident.severity}] one outage: ${incident.chain.join(' → ')}`, tone: incident.severity },
    ...wrapText(incident.story, width - 2).slice(0, 4).map((text) => ({ text: `  ${text}` })),
  ];
}

function findingLines(findings: Finding[], width: number, maxExplanationLines: number): PaneLine[] {
  const out: PaneLine[] = [];
  for (const f of findings) {
    out.push({ text: `[${f.severity}] ${f.title}`, tone: f.severity });
    out.push(...wrapText(f.explanation, width - 2).slice(0, maxExplanationLines).map((text) => ({ text: `  ${text}` })));
  }
  return out;
}

export function detailLines(view: ViewName, row: AnyRow | undefined, snapshot: TopSnapshot, width: number): PaneLine[] {
  if (!row) return [{ text: 'nothing selected', tone: 'dim' }];
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
    title = `peer ${p.peer}`;
    findings = snapshot.findings.filter((f) => f.subject.peer === p.peer || f.subject.peer?.startsWith(`${p.peer}:`));
    const procs = processPeers.rows.filter((pp) => pp.peer === p.peer).slice(0, 4);
    related = procs.length
      ? [{ text: `processes: ${procs.map((pp) => `${pp.comm}/${pp.pid} (CW ${pp.closeWait.count}, ESTAB ${pp.sockets.ESTABLISHED ?? 0})`).join('  ')}` }]
      : [];
    ownStories = stories.filter((s) => s.peer.addr === p.peer);
  } else {
    const s = row as ServiceRow;
    title = `port ${s.port} (netns ${s.netns})  listeners: ${s.listeners || 'unknown'}  accept queue: ${s.acceptQueue}`;
    findings = snapshot.findings.filter((f) => f.subject.port === s.port);
    related = s.timings ? [{ text: `last minute: ${s.timings}` }] : [];
    ownStories = stories.filter((st) => st.local.port === s.port);
  }
  const timeline = timelineLines(ownStories, 4);
  return [
    { text: title, tone: 'title' },
    ...incidentLines(findings, width),
    ...findingLines(findings, width, 3),
    ...related,
    ...(timeline.length ? [{ text: 'latest timeline:', tone: 'dim' as const }, ...timeline] : []),
    ...(findings.length === 0 && related.length === 0 && timeline.length === 0 ? [{ text: 'no findings, no recent RSTs or errors', tone: 'dim' as const }] : []),
  ];
}
