/** A failure the CLI finds itself (an unknown or ambiguous name): printed as `trl: <message>`, exit status as for a daemon error. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
