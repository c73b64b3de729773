import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An answer given without reading the request's body: whatever body the
 * request declares is drained while the answer goes out, and then the
 * connection closes (no keep-alive) instead of reading on. Without that, a
 * route that ignores bodies (a CORS preflight, the dashboard's pages) kept
 * reading whatever a peer sent, token or not — gigabytes on one connection,
 * which then stayed open for the next request. A request without a body
 * (neither Content-Length nor Transfer-Encoding) keeps its connection.
 */
export function discardBody(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete && declaresBody(req)) res.shouldKeepAlive = false;
  req.resume();
}

/**
 * A refusal or a failure: the request is drained while the answer goes out,
 * and the connection closes after it, body or not (the request may have
 * stopped anywhere).
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  res.shouldKeepAlive = false;
  req.resume();
}

/** RFC 9112 §6: a request has a body if and only if it carries Content-Length (other than 0) or Transfer-Encoding. */
function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
