/** A mistake in how socktrace was called: reported once, at the CLI entry, with exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
