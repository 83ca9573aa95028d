import { whoAmI } from '../config/who.js';
import { portOwner } from './port-owner.js';

/**
 * Start-up failures in words: what happened, and the setting or command that fixes it, instead
 * of a bare EADDRINUSE / EACCES. `serve` prints the message and exits 1.
 */
export class StartupError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * A listener that could not open. `setting` names how to change the address (e.g. "listen
 * (--listen, GATEHOUSE_LISTEN)"); `offHint` adds a way to do without it (the metrics listener).
 */
export function listenFailure(err: NodeJS.ErrnoException, what: string, address: string, setting: string, offHint = ''): StartupError {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const change = `set ${setting} to a free HOST:PORT${offHint}`;
  switch (err.code) {
    case 'EADDRINUSE': {
      const owner = portOwner(port);
      const by = owner ? `process ${owner.pid} (${owner.command}) is listening there` : 'another process is listening there (which one could not be found: `ss -ltnp` as root shows it)';
      return new StartupError(`cannot open the ${what} on ${address}: the address is already in use; ${by}. Stop that process, or ${change}`, err.code);
    }
    case 'EACCES':
    case 'EPERM':
      return new StartupError(`cannot open the ${what} on ${address}: ${whoAmI()} may not listen on port ${port}${port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}. Use a port of 1024 or above: ${change}`, err.code);
    case 'EADDRNOTAVAIL':
      return new StartupError(`cannot open the ${what} on ${address}: no network interface of this machine has that address. Use one of this machine's addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface): ${change}`, err.code);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`cannot open the ${what} on ${address}: the host name does not resolve. Use an IP address: ${change}`, err.code);
    default:
      return new StartupError(`cannot open the ${what} on ${address}: ${err.message}. ${change[0]!.toUpperCase()}${change.slice(1)}`, err.code);
  }
}
