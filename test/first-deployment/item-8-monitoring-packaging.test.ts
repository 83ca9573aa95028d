import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigSchema, DURATION_PATTERN, SIZE_PATTERN } from '../../src/config/schema.js';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { send } from '../helpers/http.js';
import { cli, REPO, startStack, type Stack } from '../helpers/stack.js';
import { waitForLog } from './log-lines.js';
import { dashboardExprs, metricNames } from './promql-names.js';

/**
 * Issue #18, item 8: ready for monitoring and packaging. The dashboard and alert rules are checked
 * against what a running gateway's /metrics really exposes; compose.yaml's Prometheus wiring is
 * checked statically (no Docker engine here); the npm package, LICENSE and `gatehouse config
 * schema` are checked as a user would meet them.
 */

const read = (p: string) => readFileSync(join(REPO, p), 'utf8');
const DASHBOARD = 'deploy/grafana/gatehouse-dashboard.json';
const ALERTS = 'deploy/prometheus/gatehouse-alerts.yml';
const PROM_CONFIG = 'deploy/prometheus/prometheus.yml';

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules = (parseYaml(read(ALERTS)) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(read(DASHBOARD)) as unknown;
const promConfig = parseYaml(read(PROM_CONFIG)) as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
/** Series Prometheus itself writes for every scrape target (not Gatehouse's to expose). */
const PROMETHEUS_MADE = new Set(['up']);
const promtool = spawnSync('promtool', ['--version']).status === 0 ? false : 'promtool is not installed here (Debian: apt-get install prometheus)';

/** Every metric name a /metrics text exposes, histogram and summary series included. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('issue #18 item 8: ready for monitoring and packaging', () => {
  describe('Grafana dashboard and Prometheus alert rules', () => {
    let s: Stack;
    let exposed: Set<string>;
    before(async () => {
      s = await startStack({ config: { metrics: { listen: '127.0.0.1:0' } } });
      const url = await waitForLog(s.gw, (l) => l.find((x) => typeof x.metrics_url === 'string')?.metrics_url as string | undefined, 'the metrics listener');
      const res = await fetch(url);
      assert.equal(res.status, 200);
      exposed = exposedNames(await res.text());
    });
    after(() => s?.close());

    it('8: the metric-name extractor finds metrics, not functions, labels, keywords, durations or variables', () => {
      const e = 'histogram_quantile(0.95, sum by (le, route) (rate(foo_bucket{a="b(c)", le!="x"}[$__rate_interval]))) / on(instance) group_left bar offset 1h > 0.5e3 and ignoring (job) baz:recorded unless max without (x) (qux{instance=~"$instance"}[5m:1m])';
      assert.deepEqual([...metricNames(e)].sort(), ['bar', 'baz:recorded', 'foo_bucket', 'qux']);
      assert.deepEqual([...metricNames('up{job="gatehouse"} == 0')], ['up']);
    });

    it('8: every metric the dashboard and the alert rules use is exposed by a running gateway\'s /metrics', () => {
      assert.ok(exposed.has('gatehouse_requests_total') && exposed.has('gatehouse_request_duration_seconds_bucket'), 'the scrape worked');
      const exprs = [...dashboardExprs(dashboard).map((e) => ({ where: DASHBOARD, e })), ...rules.map((r) => ({ where: `${ALERTS} ${r.alert}`, e: r.expr }))];
      const used = new Set<string>();
      for (const { where, e } of exprs) {
        const names = metricNames(e);
        assert.ok(names.size > 0, `${where}: no metric in ${e}`);
        for (const n of names) {
          used.add(n);
          assert.ok(exposed.has(n) || PROMETHEUS_MADE.has(n), `${where} uses ${n}, which Gatehouse does not expose`);
        }
      }
      assert.ok(dashboardExprs(dashboard).length >= 30 && rules.length >= 10, 'the files are not empty');
      assert.ok(used.size >= 25, `only ${used.size} metrics used`);
      assert.ok(!exposed.has('gatehouse_no_such_metric'), 'the check can fail');
    });

    it('8: the alert rules are complete: a unique name, severity, summary and description each', () => {
      const names = rules.map((r) => r.alert);
      assert.equal(new Set(names).size, names.length);
      for (const r of rules) {
        assert.match(r.alert ?? '', /^Gatehouse[A-Za-z]+$/);
        assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
        assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
        if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/);
      }
    });

    it('8: the jobs the rules select are the jobs prometheus.yml scrapes', () => {
      const jobs = new Set(promConfig.scrape_configs.map((c) => c.job_name));
      const selected = rules.flatMap((r) => [...r.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1]!));
      assert.ok(selected.length > 0);
      for (const j of selected) assert.ok(jobs.has(j), `job "${j}" is not scraped`);
    });

    it('8: promtool accepts the rules, prometheus.yml, and every dashboard query', { skip: promtool }, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-promtool-'));
      try {
        const check = (args: string[]) => {
          const r = spawnSync('promtool', args, { encoding: 'utf8' });
          assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
        };
        check(['check', 'rules', join(REPO, ALERTS)]);
        // prometheus.yml names the rules at their path in the container.
        writeFileSync(join(dir, 'prometheus.yml'), read(PROM_CONFIG).replace('/etc/prometheus/gatehouse-alerts.yml', join(REPO, ALERTS)));
        check(['check', 'config', join(dir, 'prometheus.yml')]);
        // Dashboard queries as recording rules, Grafana's variables replaced by what they expand to.
        const asRules = dashboardExprs(dashboard).map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*') }));
        writeFileSync(join(dir, 'dashboard-rules.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules: asRules }] }));
        check(['check', 'rules', join(dir, 'dashboard-rules.yml')]);
        // ...and promtool refuses a broken query (the check checks).
        writeFileSync(join(dir, 'broken.yml'), JSON.stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum(rate(foo[5m])' }] }] }));
        assert.notEqual(spawnSync('promtool', ['check', 'rules', join(dir, 'broken.yml')]).status, 0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('compose.yaml: Prometheus reaches the metrics listener inside the compose network', () => {
    type Service = { environment?: Record<string, string>; networks?: string[] | Record<string, { aliases?: string[] } | null>; ports?: string[]; profiles?: string[]; volumes?: string[] };
    const compose = parseYaml(read('compose.yaml')) as { services: Record<string, Service>; networks: Record<string, { internal?: boolean } | null> };
    const gh = compose.services.gatehouse!;
    const prom = compose.services.prometheus!;
    const nets = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
    const listen = gh.environment?.GATEHOUSE_METRICS__LISTEN ?? '';
    const [metricsHost, metricsPort] = listen.split(':') as [string, string];

    it('8: the metrics listener binds to an alias that exists only on an internal network shared with Prometheus alone', () => {
      assert.match(listen, /^[a-z][a-z0-9-]*:\d+$/, 'a host name, not 0.0.0.0: only that network\'s address');
      const withAlias = Object.entries(gh.networks as Record<string, { aliases?: string[] } | null>).filter(([, v]) => v?.aliases?.includes(metricsHost)).map(([n]) => n);
      assert.equal(withAlias.length, 1, `${metricsHost} must be an alias on exactly one network`);
      const net = withAlias[0]!;
      assert.equal(compose.networks[net]?.internal, true, `${net} must be internal`);
      const members = Object.entries(compose.services).filter(([, s]) => nets(s).includes(net)).map(([n]) => n).sort();
      assert.deepEqual(members, ['gatehouse', 'prometheus']);
      assert.ok(!Object.keys(compose.services).includes(metricsHost), 'the alias is no service name (those resolve on every network)');
    });

    it('8: the metrics port is published nowhere', () => {
      for (const [name, s] of Object.entries(compose.services)) {
        for (const p of s.ports ?? []) {
          const container = p.split(':').at(-1)!.split('/')[0];
          assert.notEqual(container, metricsPort, `${name} publishes the metrics port: ${p}`);
        }
      }
    });

    it('8: Prometheus (profile monitoring) scrapes that address with the rules from deploy/, mounted where prometheus.yml looks', () => {
      assert.deepEqual(prom.profiles, ['monitoring']);
      const scraped = promConfig.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets));
      assert.ok(scraped.includes(listen), `prometheus.yml scrapes ${scraped.join(', ')}, not ${listen}`);
      const mounts = new Map((prom.volumes ?? []).map((v) => v.split(':')).filter((p) => p[0]!.startsWith('./')).map((p) => [p[1]!, p[0]!.slice(2)]));
      assert.equal(mounts.get('/etc/prometheus/prometheus.yml'), PROM_CONFIG);
      for (const f of promConfig.rule_files) {
        assert.ok(mounts.has(f), `rule file ${f} is not mounted`);
        assert.ok(existsSync(join(REPO, mounts.get(f)!)), `${mounts.get(f)} does not exist`);
      }
      assert.equal(mounts.get('/etc/prometheus/gatehouse-alerts.yml'), ALERTS);
    });

    it('8: the container\'s configuration (image defaults + compose environment) is valid, and the DNS-rebinding check accepts the name Prometheus sends', () => {
      const r = cli(['config', 'check', '--json'], { ...gh.environment, GATEHOUSE_CONFIG: join(REPO, 'deploy/docker/gatehouse.yaml') });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const cfg = JSON.parse(r.stdout) as { metrics: { listen: string }; allowed_hosts: string[] };
      assert.equal(cfg.metrics.listen, listen);
      assert.ok(cfg.allowed_hosts.includes(metricsHost), `allowed_hosts ${JSON.stringify(cfg.allowed_hosts)}`);
    });
  });

  describe('a metrics listener named by host name, as in compose', () => {
    let s: Stack;
    let url: URL;
    before(async () => {
      s = await startStack({ config: { metrics: { listen: 'localhost:0' }, allowed_hosts: ['gatehouse-metrics'] } });
      url = new URL(await waitForLog(s.gw, (l) => l.find((x) => typeof x.metrics_url === 'string')?.metrics_url as string | undefined, 'the metrics listener'));
    });
    after(() => s?.close());

    it('8: binds to the address the name resolves to and answers Prometheus\'s Host; a foreign Host is refused', async () => {
      assert.ok(['127.0.0.1', '[::1]'].includes(url.hostname), `bound to ${url.hostname}`);
      const ok = await send(url.origin, 'GET', '/metrics', { headers: { host: 'gatehouse-metrics:9464' } });
      assert.equal(ok.status, 200);
      assert.match(ok.body.toString(), /^gatehouse_requests_total|# TYPE gatehouse_requests_total counter/m);
      const foreign = await send(url.origin, 'GET', '/metrics', { headers: { host: 'attacker.example:9464' } });
      assert.equal(foreign.status, 403);
    });
  });

  describe('the npm package', () => {
    let files: string[];
    before(() => {
      // --ignore-scripts: `prepare` would compile again; the suite runs on a fresh build.
      const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    });

    it('8: includes deploy/ (dashboard, alert rules, Prometheus, systemd, container config), the docs and LICENSE', () => {
      for (const f of ['LICENSE', 'README.md', 'SECURITY.md', 'package.json', 'dist/src/main.js', DASHBOARD, ALERTS, PROM_CONFIG, 'deploy/systemd/gatehouse.service', 'deploy/docker/gatehouse.yaml', 'deploy/gatehouse.example.yaml', 'docs/observability.md']) {
        assert.ok(files.includes(f), `${f} is not in the package`);
      }
    });

    it('8: excludes tests: no dist/test, no *.test.js, no test sources or benchmarks', () => {
      assert.ok(files.length > 50, 'the listing is real');
      const tests = files.filter((f) => /\.test\.js(\.map)?$/.test(f) || /\.test\.ts$/.test(f) || f.startsWith('dist/test/') || f.startsWith('test/') || f.startsWith('dist/bench/') || f.startsWith('src/'));
      assert.deepEqual(tests, []);
      assert.ok(existsSync(join(REPO, 'dist/src/server/host-check.property.test.js')), 'there are compiled unit tests the package must leave out');
    });
  });

  describe('LICENSE', () => {
    it('8: LICENSE is the full Apache License 2.0 that package.json names', () => {
      const pkg = JSON.parse(read('package.json')) as { license: string };
      assert.equal(pkg.license, 'Apache-2.0');
      const text = read('LICENSE');
      assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004/);
      for (const s of ['TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION', '9. Accepting Warranty or Additional Liability.', 'END OF TERMS AND CONDITIONS', 'APPENDIX: How to apply the Apache License to your work.']) assert.ok(text.includes(s), s);
      const debian = '/usr/share/common-licenses/Apache-2.0';
      if (existsSync(debian)) assert.equal(text.replace(/\s+/g, ' ').trim(), readFileSync(debian, 'utf8').replace(/\s+/g, ' ').trim(), 'the standard text, word for word');
    });
  });

  describe('gatehouse config schema', () => {
    type Node = { type?: string | string[]; properties?: Record<string, Node>; additionalProperties?: boolean | Node; default?: unknown; enum?: unknown[]; pattern?: string; anyOf?: Node[]; items?: Node };
    let schema: Node & { $schema: string; title: string };
    let validator: z.ZodType;
    before(() => {
      const r = cli(['config', 'schema']);
      assert.equal(r.code, 0, r.stderr);
      schema = JSON.parse(r.stdout) as typeof schema;
      validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    });
    const examples: Record<string, unknown> = {
      'deploy/gatehouse.example.yaml': parseYaml(read('deploy/gatehouse.example.yaml')),
      'deploy/docker/gatehouse.yaml': parseYaml(read('deploy/docker/gatehouse.yaml')),
      'numbers for sizes, 0 for a duration': { timeouts: { client_body: 0, upstream_headers: '1h30m' }, body_limits: { json: 1048576, blob: '2gb' }, limits: { defaults: { rpm: 60, tpm: null }, models: { 'llama3*': { concurrency: 1 } }, queue: { max_wait: '500ms' } }, log: { requests: 'refused' } },
      empty: {},
    };
    const invalid: Record<string, unknown> = {
      'an unknown top-level key': { listen_addr: '0.0.0.0:1' },
      'an unknown nested key': { timeouts: { clientbody: '1s' } },
      'an unknown key in a map value': { limits: { models: { x: { concurrency: 1, burst: 2 } } } },
      'a value outside an enum': { log: { requests: 'some' } },
      'a duration in words': { timeouts: { client_body: '5 minutes' } },
      'a size with an unknown unit': { body_limits: { json: '16 megs' } },
      'a negative duration': { audit: { retention: -1 } },
      'a duration without a unit (issue #18 item 6)': { audit: { retention: 90 } },
      'a duration string without a unit': { audit: { retention: '90' } },
      'a wrong type': { routes: { manage: 'yes' } },
    };

    it('8: is a draft-07 JSON Schema with a title, every default shown, durations as strings (or 0), sizes as strings or numbers', () => {
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
      assert.match(schema.title, /Gatehouse/);
      const p = schema.properties!;
      assert.equal(p.listen!.default, '127.0.0.1:11435');
      assert.deepEqual(p.log!.properties!.requests, { default: 'all', type: 'string', enum: ['all', 'refused', 'off'] });
      assert.deepEqual(p.timeouts!.properties!.client_body!.anyOf, [{ type: 'string', pattern: DURATION_PATTERN }, { type: 'number', const: 0 }]);
      assert.equal(p.timeouts!.properties!.client_body!.default, '60s');
      assert.deepEqual(p.body_limits!.properties!.json!.type, ['string', 'number']);
      assert.equal(p.body_limits!.properties!.json!.pattern, SIZE_PATTERN);
      // Every setting that has a default shows it; every object refuses unknown keys.
      const defaults = ConfigSchema.parse({}) as unknown as Record<string, unknown>;
      const defaultAt = (path: string[]) => path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), defaults);
      let shown = 0;
      const walk = (n: Node, path: string[]) => {
        if (n.type === 'object' && n.properties) {
          assert.equal(n.additionalProperties, false, `${path.join('.') || '(top)'} accepts unknown keys`);
          for (const [k, v] of Object.entries(n.properties)) {
            const at = [...path, k];
            if (defaultAt(at) !== undefined) {
              assert.ok('default' in v, `${at.join('.')} shows no default`);
              shown++;
            }
            walk(v, at);
          }
        }
        if (n.type === 'object' && n.additionalProperties && typeof n.additionalProperties === 'object') walk(n.additionalProperties, [...path, '*']);
      };
      walk(schema, []);
      assert.ok(shown > 50, `${shown} defaults`);
    });

    it('8: accepts the shipped example configs and refuses unknown keys, bad enums, durations and sizes, as Gatehouse does', () => {
      for (const [name, doc] of Object.entries(examples)) {
        assert.equal(validator.safeParse(doc).success, true, `schema refuses ${name}`);
        assert.equal(ConfigSchema.safeParse(doc).success, true, `Gatehouse refuses ${name}`);
      }
      for (const [name, doc] of Object.entries(invalid)) {
        assert.equal(validator.safeParse(doc).success, false, `schema accepts ${name}`);
        assert.equal(ConfigSchema.safeParse(doc).success, false, `Gatehouse accepts ${name}`);
      }
    });

    it('8: an editor\'s validator (python jsonschema, Draft 7) agrees', { skip: spawnSync('python3', ['-c', 'import jsonschema']).status === 0 ? false : 'python3-jsonschema is not installed here' }, () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-schema-'));
      try {
        writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
        writeFileSync(join(dir, 'docs.json'), JSON.stringify({ valid: examples, invalid }));
        const py = `import json, sys, jsonschema
s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
jsonschema.Draft7Validator.check_schema(s)
v = jsonschema.Draft7Validator(s)
out = {k: [e.message for e in v.iter_errors(doc)] for group in d.values() for k, doc in group.items()}
print(json.dumps(out))`;
        const r = spawnSync('python3', ['-c', py, join(dir, 'schema.json'), join(dir, 'docs.json')], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const errors = JSON.parse(r.stdout) as Record<string, string[]>;
        for (const name of Object.keys(examples)) assert.deepEqual(errors[name], [], name);
        for (const name of Object.keys(invalid)) assert.ok(errors[name]!.length > 0, `accepted: ${name}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('8: the duration and size patterns editors check agree with the parsers Gatehouse uses', () => {
      const d = new RegExp(DURATION_PATTERN);
      for (const v of ['0', '500ms', '30s', '5m', '2h', '7d', '2w', '1h30m', '1.5h', ' 10s ', '90s']) assert.ok(d.test(v) && parseDuration(v) !== null, `duration ${v}`);
      for (const v of ['', '5', 's', '5 minutes', '-5s', '5sec', '1h 30m', '10M']) assert.ok(!d.test(v) && parseDuration(v) === null, `not a duration: ${v}`);
      const sz = new RegExp(SIZE_PATTERN);
      for (const v of ['0', '1048576', '512kb', '16mb', '16MB', '2gb', '1tb', '512KiB', '3mib', '10b', '1.5gb', '16 mb']) assert.ok(sz.test(v) && parseSize(v) !== null, `size ${v}`);
      for (const v of ['', 'mb', '16 megs', '-1mb', '16m', '1pb', '16mbb']) assert.ok(!sz.test(v) && parseSize(v) === null, `not a size: ${v}`);
    });
  });
});
