import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, REPO } from '../helpers/stack.js';
import { haveOpenssl } from '../tls/certs.js';

/**
 * Issue #18 item 1, "one store, whoever runs the CLI": docs/deploying.md's systemd commands, run as
 * written (a service user with its own HOME, the unit's environment, `sudo -u gatehouse gatehouse
 * keys create …` from the operator's shell), and the key they print is accepted by the running
 * gateway. Before the fix that key went into /var/lib/gatehouse/.gatehouse and the gateway answered 401.
 *
 * The commands run in private mount and network namespaces (systemd-doc-run.ts says how, and what
 * stands in for systemctl, npm install -g and a missing sudo): every process there sees the real
 * paths (/etc/gatehouse, /var/lib/gatehouse, /usr/local/bin/gatehouse, a real `gatehouse` user in
 * /etc/passwd), but the writes land in overlays that vanish with the namespace, so nothing outside
 * what the doc installs is touched and nothing is left behind, even if the test is killed. Needs
 * root (namespaces, overlay mounts, useradd); skipped with a message otherwise.
 */

function why(): string | false {
  if (process.platform !== 'linux') return 'needs Linux namespaces';
  if (process.getuid?.() !== 0) return 'needs root: creates a user and mounts overlays on /etc, /usr and /var in a private namespace';
  if (!haveOpenssl()) return 'needs the openssl CLI for the doc\'s certificate files';
  // The service user runs this checkout's build, as /usr/local/bin/gatehouse: it must be able to read it.
  for (const f of [CLI, join(REPO, 'node_modules/yaml/package.json')]) {
    const read = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', f]);
    if (read.status !== 0) return `${f} is not readable by other users, so the service user could not run this checkout`;
  }
  const probe = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `cannot create mount and network namespaces here (${probe.stderr.trim() || probe.error?.message})`;
  return false;
}

interface Step {
  line: string;
  how: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('issue #18 item 1: docs/deploying.md (systemd) as written, with a real service user', { skip: why() }, () => {
  it('the key `sudo -u gatehouse gatehouse keys create` prints is accepted by the running service', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-doc-'));
    try {
      const r = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', process.execPath, join(REPO, 'dist/test/deploy/systemd-doc-run.js'), scratch], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `runner failed:\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { steps: Step[]; error?: string; [k: string]: unknown };
      const transcript = () => JSON.stringify(out, null, 1);
      assert.equal(out.error, undefined, transcript());

      const steps = out.steps;
      const line = (re: RegExp) => {
        const s = steps.find((x) => re.test(x.line));
        assert.ok(s, `the doc no longer has a command matching ${re}:\n${transcript()}`);
        return s;
      };
      // Every command that can run here ran as written and succeeded.
      for (const s of steps.filter((x) => x.how === 'as written')) assert.equal(s.code, 0, `${s.line}\n${s.stdout}\n${s.stderr}`);
      assert.ok(steps.filter((x) => x.how === 'as written').length >= 7, transcript());
      assert.equal(line(/sysusers/).how, 'as written');
      assert.match(out.passwd as string, /^gatehouse:x:\d+:\d+:Gatehouse gateway:\/var\/lib\/gatehouse:\/usr\/sbin\/nologin$/);

      // doctor, run the doc's way, reads the service's config and store: the service's first key is there.
      const doctor = line(/gatehouse doctor/);
      assert.match(doctor.stdout, /^gatehouse doctor: config \/etc\/gatehouse\/gatehouse\.yaml/);
      assert.match(doctor.stdout, /1 active key \(1 API/);
      assert.doesNotMatch(doctor.stdout, /no key store/i);

      // keys create names the store it wrote to: the one the service reads.
      const created = line(/keys create --name alice/);
      assert.match(created.stdout, /Written to the key store \/var\/lib\/gatehouse\/gatehouse\.db \(config \/etc\/gatehouse\/gatehouse\.yaml\)/);
      assert.equal(out.key_printed, true);
      assert.deepEqual((out.with_key as { status: number }).status, 200, transcript());
      assert.match((out.with_key as { body: string }).body, /"models"/);
      assert.equal((out.with_wrong_key as { status: number }).status, 401, 'a key the store does not hold is refused (the check can fail)');
      assert.equal(out.stray_store, false, 'no second store under the service user\'s HOME');
      assert.equal(out.service_exit, 0, 'SIGTERM stops the service cleanly');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
