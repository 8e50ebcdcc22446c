/**
 * packaging/prometheus: the alert rules pass promtool (syntax and their own test cases), name only
 * metrics and labels the daemon serves, and the scrape configurations find the daemon where the
 * packaging puts it. promtool comes with Debian's prometheus package (scripts/setup installs it);
 * without it the promtool tests skip, except under CI=true, where they fail.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { servedMetrics } from '../support/served-metrics.js';

const dir = fileURLToPath(new URL('../../packaging/prometheus/', import.meta.url));
const kubernetes = fileURLToPath(new URL('../../packaging/kubernetes/daemonset.yaml', import.meta.url));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(`${dir}socktrace-rules.yml`, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** Every metric the daemon serves, with its label names. */
function served(): Map<string, Set<string>> {
  return new Map([...servedMetrics()].map(([name, labels]) => [name, new Set(labels)]));
}

const metrics = served();

/** An expression names only served metrics with their own labels (and instance, job), and groups on those. */
function expectServedNames(where: string, expr: string): void {
  const labels = new Set(['instance', 'job']);
  for (const m of expr.matchAll(/\b(socktrace_\w+|up)\s*(\{[^}]*\})?/g)) {
    const name = m[1]!;
    if (name === 'up') continue;
    expect(metrics.has(name), `${where}: ${name} is not a socktrace metric`).toBe(true);
    for (const l of metrics.get(name)!) labels.add(l);
    for (const l of (m[2] ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)/g)) {
      expect(metrics.get(name)!.has(l[1]!) || ['instance', 'job'].includes(l[1]!), `${where}: ${name} has no label ${l[1]}`).toBe(true);
    }
  }
  for (const m of expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',').map((s) => s.trim())) expect(labels.has(l), `${where}: ${l}`).toBe(true);
  }
}

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = promtool.status === 0;
const onCI = process.env.CI === 'true';

function runPromtool(args: string[]): string {
  // Failures carry promtool's own report (which case, expected and got).
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!havePromtool && !onCI)(`promtool${havePromtool ? '' : ' [skipped: not installed; apt-get install prometheus]'}`, () => {
  it('is installed (CI=true needs it)', () => {
    expect(havePromtool, `promtool --version: ${promtool.error?.message ?? promtool.stderr}`).toBe(true);
  });

  it('accepts the rules', () => {
    expect(runPromtool(['check', 'rules', 'socktrace-rules.yml'])).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it("passes the rules' test cases: each alert fires on its trouble and stays quiet on healthy churn", () => {
    expect(runPromtool(['test', 'rules', 'socktrace-rules.test.yml'])).toContain('SUCCESS');
  });

  it('accepts the example prometheus.yml, with the rules it loads', () => {
    expect(runPromtool(['check', 'config', 'prometheus.yml'])).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe('the alert rules', () => {
  it('name only metrics the daemon serves (and up), with their own labels, and group and join on those', () => {
    for (const r of rules) expectServedNames(r.alert!, r.expr);
  });

  it('join per-process series on the host too (a pid names a process on one host only)', () => {
    for (const r of rules) for (const m of r.expr.matchAll(/\bon\s*\(([^)]*)\)/g)) if (m[1]!.includes('pid')) expect(m[1], r.alert).toContain('instance');
  });

  it('are all alerts, each with a summary, a description, a for: duration and a severity', () => {
    for (const r of rules) {
      expect(r.alert, r.expr).toBeTruthy();
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      // Alerts on socktrace_findings keep the finding's own severity label.
      const severity = r.labels?.severity ?? (r.expr.includes('socktrace_findings') ? 'from the finding' : undefined);
      expect(severity, r.alert).toMatch(/^(warning|critical|from the finding)$/);
    }
  });

  it('are each made to fire by a test case', () => {
    const tests = (parse(readFileSync(`${dir}socktrace-rules.test.yml`, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    const fired = new Set(tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname));
    expect([...fired].sort()).toEqual(rules.map((r) => r.alert!).sort());
  });
});

it("packaging/README.md's alert table lists every rule, with its for: and severity, and no other", () => {
  const text = readFileSync(new URL('../../packaging/README.md', import.meta.url), 'utf8');
  const documented = [...text.matchAll(/^\| `(Socktrace\w+)` \| [^|]+ \| (\w+) \| ([^|]+) \|$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]!.trim()}`);
  const shipped = rules.map((r) => `${r.alert} ${r.for} ${r.labels?.severity ?? "the finding's"}`);
  expect(documented.sort()).toEqual(shipped.sort());
});

describe("the Kubernetes scrape configuration finds the DaemonSet's pods", () => {
  it('in its namespace, by its pod label, on its metrics port and path', () => {
    const docs = parseAllDocuments(readFileSync(kubernetes, 'utf8')).map((d) => d.toJS());
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    const pod = ds.spec.template;
    const port = pod.spec.containers[0].ports.find((p: { name: string }) => p.name === 'metrics');
    expect(port?.containerPort).toBe(9637);

    const config = parse(readFileSync(`${dir}prometheus-kubernetes.yml`, 'utf8'));
    const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'socktrace');
    const sd = job.kubernetes_sd_configs[0];
    expect(sd.role).toBe('pod');
    expect(sd.namespaces.names).toEqual([ds.metadata.namespace]);
    const [key, value] = sd.selectors[0].label.split('=');
    expect(pod.metadata.labels[key]).toBe(value);
    // The keep rule: the pod label (as Prometheus spells the meta label) and the port's name.
    const keep = job.relabel_configs.find((r: { action?: string }) => r.action === 'keep');
    expect(keep.source_labels).toEqual([`__meta_kubernetes_pod_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`, '__meta_kubernetes_pod_container_port_name']);
    expect(new RegExp(`^(?:${keep.regex})$`).test(`${value};${port.name}`)).toBe(true);
    // The path comes from the pod's own annotation.
    const path = job.relabel_configs.find((r: { target_label?: string }) => r.target_label === '__metrics_path__');
    expect(path.source_labels).toEqual(['__meta_kubernetes_pod_annotation_prometheus_io_path']);
    expect(pod.metadata.annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('and loads the same rules as the host example', () => {
    const host = parse(readFileSync(`${dir}prometheus.yml`, 'utf8'));
    const k8s = parse(readFileSync(`${dir}prometheus-kubernetes.yml`, 'utf8'));
    expect(k8s.rule_files).toEqual(host.rule_files);
    expect(host.scrape_configs[0].job_name).toBe('socktrace');
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(fileURLToPath(new URL('../../packaging/grafana/socktrace-dashboard.json', import.meta.url)), 'utf8')) as {
    templating: { list: { name: string; query: string | { query: string } }[] };
    panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));

  it('queries only metrics the daemon serves, with their own labels, and only variables it defines', () => {
    expect(exprs.length).toBeGreaterThan(0);
    const variables = new Set([...dashboard.templating.list.map((v) => v.name), '__rate_interval']);
    for (const { where, expr } of exprs) {
      expectServedNames(where, expr);
      for (const v of expr.matchAll(/\$(\w+)/g)) expect(variables.has(v[1]!), `${where}: $${v[1]}`).toBe(true);
    }
    // Hosts come from the scrape job the rules expect.
    const instance = dashboard.templating.list.find((v) => v.name === 'instance')!;
    expect(typeof instance.query === 'string' ? instance.query : instance.query.query).toBe('label_values(up{job="socktrace"}, instance)');
  });

  it('lays its panels out without overlap, within 24 columns, each with its own id', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
