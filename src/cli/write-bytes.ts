/**
 * Write bytes to stdout/stderr and wait until they are handed to the OS, so
 * that an exit right after cannot cut them off. A reader that went away
 * (EPIPE, e.g. `trl exec … | head -1`) is not an error worth reporting.
 */
export function writeBytes(stream: NodeJS.WriteStream, bytes: Buffer): Promise<void> {
  if (bytes.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write(bytes, () => resolve());
  });
}
