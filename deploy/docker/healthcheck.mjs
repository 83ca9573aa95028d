#!/usr/bin/env node
// Container health check: GET /healthz on this container's own Gatehouse, over http or https as
// the configuration says (read with Gatehouse's own loader: same file, same GATEHOUSE_* variables).
// Exit 0 when it answers 200, 1 otherwise. It checks that Gatehouse serves, not whom it trusts:
// a TLS certificate is not verified here. With tls.client_auth: require, give it a client
// certificate in HEALTHCHECK_CLIENT_CERT and HEALTHCHECK_CLIENT_KEY (file paths).
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadConfig } from '../../dist/src/config/load.js';
import { splitHostPort } from '../../dist/src/core/ip.js';

function fail(message) {
  console.error(`healthcheck: ${message}`);
  process.exit(1);
}

let config;
try {
  config = loadConfig().config;
} catch (err) {
  fail(err.message);
}

const { host, port } = splitHostPort(config.listen);
const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
const tls = Boolean(config.tls.cert);
const clientCert = process.env.HEALTHCHECK_CLIENT_CERT;
const clientKey = process.env.HEALTHCHECK_CLIENT_KEY;

const req = (tls ? httpsRequest : httpRequest)(
  {
    host: target,
    port,
    path: `${config.base_path}/healthz`,
    method: 'GET',
    agent: false,
    headers: { host: target.includes(':') ? `[${target}]:${port}` : `${target}:${port}` },
    ...(tls ? { rejectUnauthorized: false, servername: 'localhost' } : {}),
    ...(tls && clientCert && clientKey ? { cert: readFileSync(clientCert), key: readFileSync(clientKey) } : {}),
  },
  (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? process.exit(0) : fail(`/healthz answered ${res.statusCode}`)));
  },
);
req.setTimeout(4000, () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) =>
  fail(`${tls ? 'https' : 'http'}://${target}:${port}/healthz: ${err.message}${tls && config.tls.client_auth === 'require' && !clientCert ? ' (tls.client_auth is require: set HEALTHCHECK_CLIENT_CERT/KEY)' : ''}`),
);
req.end();
