import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify as toYaml } from 'yaml';
import { CLI } from '../helpers/stack.js';

/**
 * Issue #18 item 6: foot-guns refused. Durations without a unit, `--expires` in the past, duplicate
 * key names, `--rpm none` (help and behaviour now agree: "default" follows limits.defaults, "none"
 * is refused), unknown subcommands and arguments exiting 0; `keys show` prints the limits that
 * apply; `keys VERB --help` is that verb's help; unknown flags get "did you mean".
 */

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-footguns-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'gatehouse.yaml');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, HOME: dir, GATEHOUSE_CONFIG: configFile, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function checkConfig(yaml: string, env: NodeJS.ProcessEnv = {}): Run {
  const f = join(dir, `check-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, yaml);
  return run(['config', 'check', '--config', f], env);
}

describe('issue #18 item 6: foot-guns refused', () => {
  before(() => {
    writeFileSync(configFile, toYaml({ data_dir: join(dir, 'data'), limits: { defaults: { rpm: 600 } }, clamps: { max_num_ctx: 4096 } }));
    const init = run(['init']);
    assert.equal(init.code, 0, init.stderr);
  });

  it('a duration without a unit is refused (audit.retention: 90 is not 90 seconds any more); 0 and "90d" are fine', () => {
    const bare = checkConfig('audit:\n  retention: 90\n');
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /audit\.retention: 90 has no unit: write it with one, e\.g\. "90s", "90m", "90h" or "90d"/);
    const quoted = checkConfig('timeouts:\n  client_idle: "75"\n');
    assert.equal(quoted.code, 1);
    assert.match(quoted.stderr, /timeouts\.client_idle: "75" has no unit/);
    const env = checkConfig('{}\n', { GATEHOUSE_AUDIT__RETENTION: '90' });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /audit\.retention: 90 has no unit.*\(from environment variable GATEHOUSE_AUDIT__RETENTION\)/);
    assert.equal(checkConfig('audit:\n  retention: 0\n').code, 0, '0 (keep forever) needs no unit');
    assert.equal(checkConfig('audit:\n  retention: 90d\n').code, 0);
  });

  it('--expires in the past (or now) is refused, on create and update', () => {
    const past = run(['keys', 'create', '--name', 'old', '--expires', '2020-01-01']);
    assert.equal(past.code, 2);
    assert.match(past.stderr, /--expires 2020-01-01 is in the past \(2020-01-01T00:00:00Z; it is \d{4}-.*\): the key would never work\. Give a future date or a duration such as 90d; to stop a key, use gatehouse keys revoke/);
    const zero = run(['keys', 'create', '--name', 'old', '--expires', '0s']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /--expires 0s is now/);
    assert.equal(run(['keys', 'create', '--name', 'soon', '--expires', '1h']).code, 0);
    const upd = run(['keys', 'update', 'soon', '--expires', '1999-12-31']);
    assert.equal(upd.code, 2);
    assert.match(upd.stderr, /in the past/);
    assert.equal(JSON.parse(run(['keys', 'list', '--json']).stdout).filter((k: { name: string }) => k.name === 'old').length, 0, 'nothing was created');
  });

  it('a second key with a name already taken is refused (create and rename), revoked keys included', () => {
    const first = run(['keys', 'create', '--name', 'alice', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const id = (JSON.parse(first.stdout) as { id: string }).id;
    const dup = run(['keys', 'create', '--name', 'alice']);
    assert.equal(dup.code, 2);
    assert.ok(dup.stderr.includes(`a key named "alice" already exists (${id}, active); names must be unique`), dup.stderr);
    assert.ok(dup.stderr.includes(`gatehouse keys update ${id} --name alice-old`), dup.stderr);
    assert.equal(run(['keys', 'create', '--name', 'bob']).code, 0);
    const rename = run(['keys', 'update', 'bob', '--name', 'alice']);
    assert.equal(rename.code, 2);
    assert.match(rename.stderr, /a key named "alice" already exists/);
    assert.equal(run(['keys', 'revoke', 'alice']).code, 0);
    const afterRevoke = run(['keys', 'create', '--name', 'alice']);
    assert.equal(afterRevoke.code, 2);
    assert.match(afterRevoke.stderr, /\(key_\w+, revoked\)/);
    const names = (JSON.parse(run(['keys', 'list', '--json']).stdout) as Array<{ name: string }>).map((k) => k.name);
    assert.equal(names.filter((n) => n === 'alice').length, 1);
  });

  it('--rpm none is refused (a key cannot opt out of limits.defaults); --help says "default", which works', () => {
    const none = run(['keys', 'create', '--name', 'nolimit', '--rpm', 'none']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--rpm none: a key cannot opt out of limits\.defaults\.rpm \(now: 600\)\. Use --rpm default to follow it, or a number for this key's own limit/);
    assert.equal(run(['keys', 'create', '--name', 'nolimit', '--rpm', 'unlimited']).code, 2);
    assert.equal(run(['keys', 'create', '--name', 'nolimit', '--max-num-ctx', 'none']).code, 2);
    const help = run(['keys', 'create', '--help']).stdout;
    assert.match(help, /--rpm N\s+requests per minute \("default" = follow limits\.defaults\.rpm, the default\)/);
    assert.doesNotMatch(help, /"none"/);
    const made = run(['keys', 'create', '--name', 'own', '--rpm', '5', '--json']);
    assert.equal(made.code, 0);
    const back = run(['keys', 'update', 'own', '--rpm', 'default', '--json']);
    assert.equal(back.code, 0, back.stderr);
    const j = JSON.parse(back.stdout) as { limits: { rpm: number | null }; effective_limits: { rpm: number | null } };
    assert.equal(j.limits.rpm, null);
    assert.equal(j.effective_limits.rpm, 600);
  });

  it('keys show prints the limits and clamps that apply, with where they come from, never "default"', () => {
    assert.equal(run(['keys', 'create', '--name', 'shown', '--tpm', '500', '--max-num-predict', '100']).code, 0);
    const shown = run(['keys', 'show', 'shown']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /limits\s+rpm=600 \(limits\.defaults\), tpm=500, tpd=unlimited \(limits\.defaults\), concurrency=unlimited \(limits\.defaults\)/);
    assert.match(shown.stdout, /clamps\s+max_num_ctx=4096 \(config\), max_num_predict=100, max_keep_alive=1h \(config\)/);
    assert.doesNotMatch(shown.stdout, /=default/);
    const json = JSON.parse(run(['keys', 'show', 'shown', '--json']).stdout) as { effective_limits: Record<string, unknown>; effective_clamps: Record<string, unknown> };
    assert.deepEqual(json.effective_limits, { rpm: 600, tpm: 500, tpd: null, concurrency: null });
    assert.equal(json.effective_clamps.max_num_ctx, 4096);
    assert.equal(json.effective_clamps.max_num_predict, 100);
  });

  it('unknown subcommands and stray arguments exit 2 with the list of what exists', () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"; the commands are serve, init, keys, policies, config, usage, audit, doctor, nodes/],
      [['kyes', 'list'], /unknown command "kyes" \(did you mean keys\?\)/],
      [['keys', 'frobnicate'], /unknown keys subcommand "frobnicate"; the subcommands are create, add-ssh, add-cert, list, show, update, revoke/],
      [['config', 'frob'], /unknown config subcommand "frob"/],
      [['serve', 'now'], /unexpected argument "now" \(see gatehouse serve --help\)/],
      [['init', 'here'], /unexpected argument "here"/],
      [['keys', 'list', 'extra'], /unexpected argument "extra" \(see gatehouse keys list --help\)/],
      [['keys', 'show', 'a', 'b'], /unexpected argument "b"/],
      [['config', 'check', 'x'], /unexpected argument "x"/],
      [['usage', 'x'], /unexpected argument "x"/],
      [['audit', 'x'], /unexpected argument "x"/],
      [['doctor', 'x'], /unexpected argument "x"/],
      [['nodes', 'x'], /unexpected argument "x" \(see gatehouse nodes --help\)/],
      [['help', 'frob'], /no help for "frob": it is not a command/],
      [['constructor'], /unknown command "constructor"/],
      [['keys', 'toString'], /unknown keys subcommand "toString"/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    const help = run(['help', 'keys']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^gatehouse keys: manage/);
  });

  it('keys VERB --help prints that verb\'s help, and only its options', () => {
    const verbs = ['create', 'add-ssh', 'add-cert', 'list', 'show', 'update', 'revoke'];
    for (const verb of verbs) {
      for (const args of [['keys', verb, '--help'], ['keys', verb, '-h']]) {
        const r = run(args);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.startsWith(`gatehouse keys ${verb}: `), `${args.join(' ')}:\n${r.stdout}`);
        assert.match(r.stdout, new RegExp(`Usage:\\n  gatehouse keys ${verb}\\b`));
        for (const other of verbs.filter((v) => v !== verb)) assert.ok(!r.stdout.includes(`gatehouse keys ${other} `), `${verb} help shows ${other}`);
      }
    }
    assert.doesNotMatch(run(['keys', 'list', '--help']).stdout, /--rpm/);
    assert.match(run(['keys', 'add-ssh', '--help']).stdout, /--pubkey-file FILE/);
    assert.match(run(['keys', '--help']).stdout, /`gatehouse keys VERB --help` shows a verb's options/);
  });

  it('unknown flags are refused with "did you mean" from the command\'s own flags', () => {
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'create', '--nmae', 'x'], /unknown option --nmae: did you mean --name\? \(see gatehouse keys create --help\)/],
      [['keys', 'create', '--name', 'x', '--expire', '30d'], /unknown option --expire: did you mean --expires\?/],
      [['keys', 'update', 'x', '--conc', '2'], /unknown option --conc: did you mean --concurrency\?/],
      [['usage', '--sinec', '1h'], /unknown option --sinec: did you mean --since\?/],
      [['serve', '--listn', '127.0.0.1:0'], /unknown option --listn: did you mean --listen\?/],
      [['doctor', '--jsno'], /unknown option --jsno: did you mean --json\?/],
      [['config', 'check', '--confg', 'x'], /unknown option --confg: did you mean --config\?/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    // A flag of another verb is unknown here, with nothing close to suggest.
    const other = run(['keys', 'list', '--rpm', '5']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /unknown option --rpm \(see gatehouse keys list --help\)/);
    const missing = run(['keys', 'create', '--name']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--name needs a value/);
  });
});
