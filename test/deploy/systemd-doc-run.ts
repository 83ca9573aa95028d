import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator } from '../emulator/index.js';
import { REPO, CLI } from '../helpers/stack.js';
import { serverCert } from '../tls/certs.js';
import { pinnedRequest } from '../tls/client.js';

/**
 * The inside of test/deploy/systemd-doc.test.ts: runs docs/deploying.md's systemd commands as
 * written, in private mount and network namespaces the test made (`unshare --mount --net`), and
 * prints what happened as one JSON line. Never run it outside them: it mounts overlays on /etc,
 * /usr and /var, so everything the doc installs (the user, /etc/gatehouse, /var/lib/gatehouse,
 * /usr/local/bin/gatehouse) lands in a scratch directory and disappears with the namespace, while
 * every process inside sees the real paths. The network namespace has only its own loopback, so
 * the doc's fixed ports (Ollama 11434, Gatehouse 0.0.0.0:11435, metrics 9464) are free, and doctor's
 * probe of "this host's other addresses" sends nothing beyond it.
 *
 * What cannot run here, and what stands in for it (each step reports which it was):
 * - `systemctl ...`: there is no systemd. Restarting Ollama: the Ollama emulator is started on
 *   127.0.0.1:11434 instead. Starting the unit: the unit file the doc installed is read and its
 *   ExecStart run the way systemd would: StateDirectory= created (owner User=, StateDirectoryMode=),
 *   User=/Group= (setpriv), Environment= plus the HOME/USER/LOGNAME/SHELL/PATH systemd sets, UMask=,
 *   working directory /.
 * - `npm pack && sudo npm install -g ./gatehouse-*.tgz`: installing from the registry is not done in
 *   tests; /usr/local/bin/gatehouse is made what npm leaves there, a link to the package's bin
 *   (dist/src/main.js of this checkout).
 * - `sudo`: when it is not installed, /usr/local/bin/sudo (inside the overlay) is a shim that does
 *   what Debian's sudo does with its default sudoers (env_reset, secure_path): the command runs as
 *   the target user in a fresh environment of PATH, HOME, USER, LOGNAME, SHELL (the target's) and
 *   SUDO_*, in the caller's working directory. Nothing of the caller's GATEHOUSE_* reaches it.
 * - `systemd-sysusers`: run as written when installed; otherwise a shim creates the `u` lines of
 *   the installed sysusers file with useradd (system user, that home, that shell, no home created).
 */

interface Step {
  line: string;
  how: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

const scratch = process.argv[2]!;
const steps: Step[] = [];
const result: Record<string, unknown> = { steps };
let service: ChildProcess | null = null;
let serviceLog = '';

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, env: opts.env ?? process.env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/**
 * A doc command, without blocking this process: the Ollama emulator runs in it and must answer
 * doctor and the service meanwhile.
 */
function run(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-e', '-c', line], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function must(cmd: string, args: string[]): void {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** Overlays: writes to /etc, /usr and /var go to the scratch dir; the real ones are only read. */
function isolate(): void {
  must('ip', ['link', 'set', 'lo', 'up']);
  for (const dir of ['etc', 'usr', 'var']) {
    const upper = join(scratch, 'overlay', dir, 'upper');
    const work = join(scratch, 'overlay', dir, 'work');
    mkdirSync(upper, { recursive: true });
    mkdirSync(work, { recursive: true });
    must('mount', ['-t', 'overlay', `overlay-${dir}`, '-o', `lowerdir=/${dir},upperdir=${upper},workdir=${work}`, `/${dir}`]);
  }
}

const SUDO_SHIM = `#!/bin/sh
# Test stand-in for sudo (see test/deploy/systemd-doc-run.ts): Debian's defaults, env_reset + secure_path.
user=root
if [ "$1" = "-u" ]; then user=$2; shift 2; fi
entry=$(getent passwd "$user") || { echo "sudo: unknown user $user" >&2; exit 1; }
home=$(echo "$entry" | cut -d: -f6); shell=$(echo "$entry" | cut -d: -f7)
exec setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups \\
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" LOGNAME="$user" SHELL="$shell" \\
  SUDO_USER=root SUDO_UID=0 SUDO_GID=0 "$@"
`;

const SYSUSERS_SHIM = `#!/bin/sh
# Test stand-in for systemd-sysusers (see test/deploy/systemd-doc-run.ts): the "u" lines, with useradd.
for f in /usr/lib/sysusers.d/gatehouse.conf; do
  grep '^u ' "$f" | while read -r _ name _ rest; do
    gecos=$(echo "$rest" | sed -n 's/^"\\([^"]*\\)".*/\\1/p'); tail=$(echo "$rest" | sed 's/^"[^"]*" *//')
    home=$(echo "$tail" | cut -d' ' -f1); shell=$(echo "$tail" | cut -d' ' -f2)
    getent passwd "$name" >/dev/null || useradd --system --user-group --no-create-home --home-dir "$home" --shell "$shell" --comment "$gecos" "$name"
  done
done
`;

function onPath(cmd: string): boolean {
  return sh('sh', ['-c', `command -v ${cmd}`]).code === 0;
}

/** The first ```sh block of the doc's systemd section, one command per line, comments dropped. */
function docCommands(): string[] {
  const doc = readFileSync(join(REPO, 'docs/deploying.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### 1. A host with systemd'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Reads the installed unit: User, Group, Environment, ExecStart, UMask, StateDirectory(Mode). */
function unit(): { user: string; group: string; env: Record<string, string>; exec: string[]; umask: string; stateDir: string; stateMode: string } {
  const text = readFileSync('/etc/systemd/system/gatehouse.service', 'utf8');
  const one = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^Environment=(.*)$/gm)) {
    const [k, ...v] = m[1]!.replace(/^"|"$/g, '').split('=');
    env[k!] = v.join('=');
  }
  return { user: one('User'), group: one('Group'), env, exec: one('ExecStart').split(/\s+/), umask: one('UMask') || '0022', stateDir: one('StateDirectory'), stateMode: one('StateDirectoryMode') || '0755' };
}

/** `systemctl enable --now gatehouse`, as far as a test can: the unit's ExecStart as its User. */
async function startUnit(): Promise<string> {
  const u = unit();
  const pw = sh('getent', ['passwd', u.user]).stdout.trim().split(':');
  if (u.stateDir) must('install', ['-d', '-o', u.user, '-g', u.group, '-m', u.stateMode, `/var/lib/${u.stateDir}`]);
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin', HOME: pw[5]!, USER: u.user, LOGNAME: u.user, SHELL: pw[6]!, ...u.env };
  const script = `umask ${u.umask} && exec "$@"`;
  service = spawn('setpriv', ['--reuid', u.user, '--regid', u.group, '--init-groups', 'sh', '-c', script, 'sh', ...u.exec], { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within 20 s:\n${serviceLog}`)), 20_000);
    const onData = (d: Buffer) => {
      serviceLog += d.toString();
      if (/gatehouse listening/.test(serviceLog)) {
        clearTimeout(timer);
        resolve(`ran ${u.exec.join(' ')} as ${u.user}:${u.group}, cwd /, umask ${u.umask}, environment ${Object.keys(env).join(' ')} (Environment= of the unit plus what systemd sets)`);
      }
    };
    service!.stdout!.on('data', onData);
    service!.stderr!.on('data', onData);
    service!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code}:\n${serviceLog}`));
    });
  });
}

async function main(): Promise<void> {
  isolate();
  const operatorCwd = join(scratch, 'checkout');
  mkdirSync(operatorCwd, { recursive: true });
  chmodSync(operatorCwd, 0o700);
  symlinkSync(join(REPO, 'deploy'), join(operatorCwd, 'deploy'));
  // The doc's fullchain.pem and privkey.pem: a certificate for localhost/127.0.0.1.
  const cert = serverCert(operatorCwd, 'gw');
  writeFileSync(join(operatorCwd, 'fullchain.pem'), cert.pem);
  writeFileSync(join(operatorCwd, 'privkey.pem'), cert.keyPem, { mode: 0o600 });
  if (!onPath('sudo')) {
    writeFileSync('/usr/local/bin/sudo', SUDO_SHIM, { mode: 0o755 });
    result.sudo = 'shim';
  } else result.sudo = 'installed';
  if (!onPath('systemd-sysusers')) writeFileSync('/usr/local/sbin/systemd-sysusers', SYSUSERS_SHIM, { mode: 0o755 });
  result.sysusers = onPath('systemd-sysusers') && !existsSync('/usr/local/sbin/systemd-sysusers') ? 'installed' : 'shim';

  let emulator: Awaited<ReturnType<typeof startEmulator>> | null = null;
  const shellEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TERM: 'dumb' };
  try {
    for (const line of docCommands()) {
      if (/systemctl restart ollama/.test(line)) {
        emulator = await startEmulator({ host: '127.0.0.1', port: 11434 });
        steps.push({ line, how: 'substituted: no systemd; the Ollama emulator was started on 127.0.0.1:11434', code: 0, stdout: '', stderr: '' });
        continue;
      }
      if (/npm install -g/.test(line)) {
        symlinkSync(CLI, '/usr/local/bin/gatehouse');
        steps.push({ line, how: `substituted: /usr/local/bin/gatehouse -> ${CLI} (the bin link npm install -g makes)`, code: 0, stdout: '', stderr: '' });
        continue;
      }
      if (/systemctl enable --now gatehouse/.test(line)) {
        const how = await startUnit();
        steps.push({ line, how: `substituted: no systemd; ${how}`, code: 0, stdout: '', stderr: '' });
        continue;
      }
      const r = await run(line, operatorCwd, shellEnv);
      steps.push({ line, how: 'as written', ...r });
      if (r.code !== 0 && !/gatehouse doctor/.test(line)) break;
    }
    const created = steps.find((s) => /keys create/.test(s.line));
    const key = /\b(gatehouse_[0-9A-Za-z]{49})\b/.exec(created?.stdout ?? '')?.[1] ?? null;
    result.key_printed = key !== null;
    if (key && service) {
      await new Promise((r) => setTimeout(r, 600)); // the service polls the store every 250 ms
      const pin = { pin: cert.pem, pinFingerprint: cert.fingerprint256 };
      const withKey = await pinnedRequest('https://127.0.0.1:11435/api/tags', { ...pin, headers: { authorization: `Bearer ${key}` } });
      const without = await pinnedRequest('https://127.0.0.1:11435/api/tags', { ...pin, headers: { authorization: `Bearer gatehouse_${'A'.repeat(49)}` } });
      result.with_key = { status: withKey.status, body: withKey.body.slice(0, 300) };
      result.with_wrong_key = { status: without.status };
    }
    result.var_lib = sh('ls', ['-la', '/var/lib/gatehouse']).stdout;
    result.stray_store = existsSync('/var/lib/gatehouse/.gatehouse');
    result.passwd = sh('getent', ['passwd', 'gatehouse']).stdout.trim();
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
  } finally {
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service!.once('exit', r));
      service.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      result.service_exit = service.exitCode;
    }
    result.service_log = serviceLog.slice(-6000);
    await emulator?.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main().then(() => process.exit(0));
