/**
 * Why a store could not be opened, in words an operator can act on. Both carry a complete message;
 * the CLI adds where it looked for the configuration.
 */

/** The store does not exist, and this command does not create stores (only serve and init do). */
export class StoreMissingError extends Error {
  constructor(
    /** The file or database/schema that was looked for. */
    readonly location: string,
    /** What exactly is missing: the data dir, the file, the schema. */
    readonly detail: string,
  ) {
    super(`there is no key store at ${location} (${detail})`);
    this.name = 'StoreMissingError';
  }
}

/** The data dir or store exists (or must be created) but cannot be used: permissions, a file, a read-only mount. */
export class StoreAccessError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'StoreAccessError';
  }
}
