import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { build, eventually } from './helpers.js';

/**
 * A Redis that drops the subscriber's connection while a SUBSCRIBE is on its way. ioredis's own
 * resubscription sends that SUBSCRIBE without handling its rejection, so every such flap used to
 * end in an unhandled rejection (in CI: "MaxRetriesPerRequestError … triggered an
 * unhandledRejection event"), which in production ends the process. The store now subscribes on
 * each 'ready' itself. No real Redis needed: a RESP server on loopback plays the part.
 */

/** Commands of one connection, parsed from RESP arrays of bulk strings (all ioredis sends). */
function commands(socket: Socket, onCommand: (args: string[]) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const parsed = parseArray(buf);
      if (!parsed) return;
      buf = buf.subarray(parsed.used);
      onCommand(parsed.args);
      if (socket.destroyed) return;
    }
  });
}

function parseArray(buf: Buffer): { args: string[]; used: number } | null {
  const line = (from: number): [string, number] | null => {
    const end = buf.indexOf('\r\n', from);
    return end === -1 ? null : [buf.toString('latin1', from, end), end + 2];
  };
  const head = line(0);
  if (!head || head[0][0] !== '*') return null;
  const n = Number(head[0].slice(1));
  let at = head[1];
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = line(at);
    if (!len) return null;
    const size = Number(len[0].slice(1));
    if (buf.length < len[1] + size + 2) return null;
    args.push(buf.toString('utf8', len[1], len[1] + size));
    at = len[1] + size + 2;
  }
  return { args, used: at };
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

describe('redis backend: a subscriber connection that flaps', () => {
  let server: Server | null = null;
  after(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('is resubscribed on every reconnection, and a SUBSCRIBE lost with its connection never becomes an unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    let subscribes = 0;
    /** SUBSCRIBEs answered on a connection that stayed open. */
    let settled = 0;
    const DROPS = 3;
    server = createServer((socket) => {
      socket.on('error', () => {});
      commands(socket, (args) => {
        const name = args[0]!.toLowerCase();
        if (name === 'info') return void socket.write(bulk('# Server\r\nredis_version:7.0.15\r\nloading:0\r\n'));
        if (name === 'ping') return void socket.write('+PONG\r\n');
        if (name !== 'subscribe') return void socket.write(`-ERR unknown command '${args[0]}'\r\n`);
        subscribes++;
        if (subscribes === 1) {
          // Subscribed; then the connection goes away, as when Redis restarts.
          socket.write(`*3\r\n${bulk('subscribe')}${bulk(args[1]!)}:1\r\n`);
          setTimeout(() => socket.destroy(), 50);
        } else if (subscribes <= 1 + DROPS) {
          // The reconnection's SUBSCRIBE is lost with its connection: no reply.
          socket.destroy();
        } else {
          socket.write(`*3\r\n${bulk('subscribe')}${bulk(args[1]!)}:1\r\n`);
          settled++;
        }
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const { limiter } = await build('redis', {}, { url: `redis://127.0.0.1:${port}`, redis: { connect_timeout: '300ms', command_timeout: '300ms' } });
    try {
      await eventually(() => settled >= 1, 8000, 'a SUBSCRIBE on a connection that stays up, after the flaps');
      // Rejections surface a tick after the connection closes; give them the time to.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(subscribes, 2 + DROPS, 'one SUBSCRIBE per connection: the first, each lost one, the one that stays');
      assert.deepEqual(rejections.map(String), [], 'no unhandled rejection');
    } finally {
      process.off('unhandledRejection', onRejection);
      await limiter.close();
    }
  });
});
