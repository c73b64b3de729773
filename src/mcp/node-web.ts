import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Node's request and response as the web-standard Request and Response the
 * MCP SDK's HTTP entry points speak. The body is read here, capped; the
 * signal aborts when the client goes away (how a 2026 client cancels a call).
 */
export async function toWebRequest(req: IncomingMessage, signal: AbortSignal, maxBytes: number): Promise<Request | 'too large'> {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') {
    req.resume();
    return new Request(url, { method, headers, signal });
  }
  const body = await readCapped(req, maxBytes);
  if (body === null) return 'too large';
  return new Request(url, { method, headers, body: Uint8Array.from(body), signal });
}

function readCapped(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      return resolve(null);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(over ? null : Buffer.concat(chunks, size)));
    req.once('error', () => resolve(null));
  });
}

/** Write a web Response to Node's response, streaming its body (SSE) chunk by chunk with back-pressure. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  if (res.destroyed) {
    await response.body?.cancel().catch(() => undefined);
    return;
  }
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  res.once('close', cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value))
        await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
    }
  } catch {
    /* the client went away, or the stream broke: end what we can */
  } finally {
    res.off('close', cancel);
    if (!res.destroyed) res.end();
  }
}
