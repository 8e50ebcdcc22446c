/**
 * One-shot commands (snapshot, doctor): a reader that leaves early (`socktrace snapshot | head`) ends
 * the command quietly, as it ends `ls`, instead of an unhandled EPIPE and a stack trace.
 */
export function endQuietlyWhenReaderLeaves(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
