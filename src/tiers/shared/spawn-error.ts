/** Spawn failure with the errno code: nothing was started (SPAWN_FAILED to the client). */
export class SpawnError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}
