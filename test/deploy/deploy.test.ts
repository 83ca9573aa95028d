import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CLI, REPO, startStack, type Stack } from '../helpers/stack.js';
import { haveOpenssl, serverCert } from '../tls/certs.js';

/**
 * The deploy files: compose.yaml, Dockerfile, the systemd unit and the container health check.
 * This machine has a docker client but no engine, so nothing is built or run in a container: the
 * compose files are validated by the client (`docker compose config`, else the standalone
 * `docker-compose config`; skipped with a message when neither is installed), and the security
 * properties the issue asks for are checked on the parsed files.
 */

function which(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0;
}

/** The compose client available here: the v2 plugin, else the v1 standalone, else none. */
function composeClient(): { cmd: string; pre: string[]; name: string } | null {
  if (which('docker', ['compose', 'version'])) return { cmd: 'docker', pre: ['compose'], name: 'docker compose' };
  if (which('docker-compose', ['version'])) return { cmd: 'docker-compose', pre: [], name: 'docker-compose' };
  return null;
}

const compose = composeClient();
const noCompose = compose ? false : 'no docker compose client here (neither the `docker compose` plugin nor `docker-compose`): compose.yaml was not validated by a client';

type Service = Record<string, unknown> & { ports?: unknown[]; networks?: string[] | Record<string, unknown>; volumes?: unknown[]; profiles?: string[]; environment?: Record<string, string> };
const composeDoc = parseYaml(readFileSync(join(REPO, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; networks: Record<string, { internal?: boolean } | null>; volumes: Record<string, unknown> };
const networksOf = (s: Service): string[] => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));

describe('compose.yaml', () => {
  it(`is accepted by ${compose?.name ?? 'docker compose'} config (alone and with the TLS overlay)`, { skip: noCompose }, () => {
    for (const files of [['compose.yaml'], ['compose.yaml', 'deploy/compose.tls.yaml']]) {
      const args = [...compose!.pre, ...files.flatMap((f) => ['-f', f]), 'config', '-q'];
      const r = spawnSync(compose!.cmd, args, { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } });
      assert.equal(r.status, 0, `${compose!.name} ${args.join(' ')}:\n${r.stderr}`);
    }
  });

  it(`${compose?.name ?? 'docker compose'} config rejects a broken file (the check checks)`, { skip: noCompose }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compose-'));
    try {
      writeFileSync(join(dir, 'compose.yaml'), 'services:\n  x:\n    image: busybox\n    not_a_compose_key: 1\n');
      const r = spawnSync(compose!.cmd, [...compose!.pre, '-f', 'compose.yaml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
      assert.notEqual(r.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Ollama publishes no port and sits only on internal networks', () => {
    const ollama = composeDoc.services.ollama!;
    assert.equal(ollama.ports, undefined);
    assert.equal(ollama.network_mode, undefined);
    const nets = networksOf(ollama);
    assert.ok(nets.length > 0);
    for (const n of nets) assert.equal(composeDoc.networks[n]?.internal, true, `network ${n} must be internal`);
  });

  it('only Gatehouse is published, on loopback unless told otherwise, and it reaches Ollama by the internal network', () => {
    const running = Object.entries(composeDoc.services).filter(([, s]) => !s.profiles);
    assert.deepEqual(running.filter(([, s]) => s.ports).map(([n]) => n), ['gatehouse']);
    const gh = composeDoc.services.gatehouse!;
    assert.deepEqual(gh.ports, ['${GATEHOUSE_PUBLISH:-127.0.0.1:11435}:11435']);
    assert.equal(gh.environment?.GATEHOUSE_UPSTREAM, 'http://ollama:11434');
    assert.ok(networksOf(gh).some((n) => networksOf(composeDoc.services.ollama!).includes(n)));
    for (const [name, s] of Object.entries(composeDoc.services)) {
      // The one exception, behind a profile: Prometheus's UI, on loopback unless told otherwise.
      if (name === 'prometheus') assert.deepEqual(s.ports, ['${PROMETHEUS_PUBLISH:-127.0.0.1:9090}:9090']);
      else assert.equal(s.ports === undefined || name === 'gatehouse', true, `${name} publishes a port`);
    }
  });

  it('data lives in named volumes; the Gatehouse container is locked down', () => {
    for (const name of ['ollama', 'gatehouse']) {
      for (const v of composeDoc.services[name]!.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : String((v as { source?: string }).source);
        assert.ok(source in composeDoc.volumes, `${name}: ${source} is not a named volume`);
      }
    }
    const gh = composeDoc.services.gatehouse!;
    assert.equal(gh.read_only, true);
    assert.deepEqual(gh.cap_drop, ['ALL']);
    assert.deepEqual(gh.security_opt, ['no-new-privileges:true']);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));

  it('is multi-stage, every base image pinned by exact version and digest', () => {
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const f of froms) {
      const image = f.split(/\s+/)[1]!;
      assert.match(image, /^[a-z0-9./-]+:\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$/, `not pinned: ${f}`);
    }
  });

  it('installs production dependencies with npm ci --omit=dev, runs as a non-root user, checks /healthz', () => {
    assert.match(text, /npm ci --omit=dev/);
    const users = lines.filter((l) => /^USER\s/i.test(l));
    const last = users.at(-1)?.split(/\s+/)[1];
    assert.ok(last && last !== 'root' && last !== '0' && !last.startsWith('0:'), `runs as ${last}`);
    const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
    assert.ok(lines.findIndex((l) => /^USER\s/i.test(l)) > lastFrom, 'USER is set in the final stage');
    assert.match(text, /^HEALTHCHECK .*\n?.*healthcheck\.mjs/m);
    assert.match(readFileSync(join(REPO, 'deploy/docker/healthcheck.mjs'), 'utf8'), /\/healthz/);
    assert.doesNotMatch(text, /^ADD\s+https?:/im);
  });

  it('copies only what .dockerignore lets into the context, and that exists', () => {
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'allow-list: everything is excluded first');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copies = lines.filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l));
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const parts = c.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(join(REPO, src)), `COPY source ${src} does not exist`);
        assert.ok(allowed.some((a) => src === a || src.startsWith(`${a}/`)), `COPY source ${src} is excluded by .dockerignore`);
      }
    }
  });

  it('passes hadolint', { skip: which('hadolint', ['--version']) ? false : 'hadolint is not installed here (not packaged for Debian 12; see docs/deploying.md for what was linted instead)' }, () => {
    const r = spawnSync('hadolint', [join(REPO, 'Dockerfile')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

describe('container health check (deploy/docker/healthcheck.mjs) against a real gateway', () => {
  const script = join(REPO, 'deploy/docker/healthcheck.mjs');
  const check = (s: Stack, env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, GATEHOUSE_CONFIG: s.configFile, GATEHOUSE_LISTEN: `127.0.0.1:${s.gw.port}`, ...env } });

  it('answers 0 over http, 1 once the gateway is gone', async () => {
    const s = await startStack();
    try {
      const ok = check(s);
      assert.equal(ok.status, 0, ok.stderr);
      await s.gw.stop();
      const down = check(s);
      assert.equal(down.status, 1);
      assert.match(down.stderr, /healthcheck: http:\/\/127\.0\.0\.1:\d+\/healthz: .*ECONNREFUSED/);
    } finally {
      await s.close();
    }
  });

  it('follows the configuration to https', { skip: haveOpenssl() ? false : 'openssl is not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hc-'));
    const c = serverCert(dir, 'srv');
    const s = await startStack({ config: { tls: { cert: c.cert, key: c.key } } });
    try {
      const r = check(s);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('systemd unit', () => {
  const unitPath = join(REPO, 'deploy/systemd/gatehouse.service');
  const unit = readFileSync(unitPath, 'utf8');
  const has = (line: string) => unit.split('\n').some((l) => l.trim() === line);
  const analyze = which('systemd-analyze', ['--version']) ? false : 'systemd-analyze is not installed here';
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The unit with ExecStart pointed at this checkout's CLI (the installed path does not exist here). */
  const local = () => {
    const p = join(dir, 'gatehouse.service');
    writeFileSync(p, unit.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${CLI} serve`));
    return p;
  };

  it('runs as its own user, sandboxed, reloads on SIGHUP', () => {
    for (const line of ['User=gatehouse', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'StateDirectory=gatehouse', 'StateDirectoryMode=0700', 'UMask=0077', 'ExecReload=/bin/kill -HUP $MAINPID', 'ExecStart=/usr/local/bin/gatehouse serve']) {
      assert.ok(has(line), `missing: ${line}`);
    }
    assert.match(readFileSync(join(REPO, 'deploy/systemd/gatehouse.sysusers'), 'utf8'), /^u gatehouse /m);
    assert.match(readFileSync(join(REPO, 'deploy/systemd/ollama-loopback.conf'), 'utf8'), /^Environment="OLLAMA_HOST=127\.0\.0\.1:11434"$/m);
  });

  it('passes systemd-analyze verify', { skip: analyze }, () => {
    const r = spawnSync('systemd-analyze', ['verify', local()], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('scores an exposure of 2.0 or less in systemd-analyze security', { skip: analyze }, () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', local()], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout.split('\n').slice(-3).join('\n'));
  });

  it('the example configs (systemd and container image) are valid', () => {
    for (const src of ['deploy/gatehouse.example.yaml', 'deploy/docker/gatehouse.yaml']) {
      const p = join(dir, 'gatehouse.yaml');
      copyFileSync(join(REPO, src), p);
      const r = spawnSync(process.execPath, [CLI, 'config', 'check', '--config', p], { encoding: 'utf8', env: { ...process.env, GATEHOUSE_CONFIG: '' } });
      assert.equal(r.status, 0, `${src}: ${r.stdout}${r.stderr}`);
    }
  });
});
