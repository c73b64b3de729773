/** A message the daemon pushes on the dashboard's socket without being asked (`hello`, `snapshot`). */
export interface FeedMessage {
  event: string;
  data: unknown;
}

/** One event of an output stream (exec.attach): `stdout`/`stderr` data, a `gap`, the final `exit`. */
export interface StreamEvent {
  stream_id: string;
  event: 'stdout' | 'stderr' | 'gap' | 'exit' | 'error';
  data?: unknown;
  offset?: number;
  dropped_bytes?: number;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  onStream?: (ev: StreamEvent) => void;
}

/** How long to wait before reconnecting, growing to the last value while the daemon stays away. */
const BACKOFF_MS = [500, 1000, 2000, 5000];

/**
 * The page's one WebSocket to /dashboard/ws (the daemon's WebSocket protocol:
 * requests by id, responses, stream events by stream id), plus the daemon's
 * pushed feed. It reconnects by itself; `onOpen` then re-opens what the
 * page was showing. The cookie authenticates it; the page holds no token.
 */
export class DashboardSocket {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<string, (ev: StreamEvent) => void>();
  private failures = 0;

  constructor(
    private readonly onFeed: (msg: FeedMessage) => void,
    private readonly onLink: (state: 'live' | 'down' | 'connecting', detail: string) => void,
    private readonly onOpen: () => void,
  ) {}

  connect(): void {
    this.onLink('connecting', 'connecting');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/dashboard/ws`, ['trl.v1']);
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.onLink('live', 'live');
      this.onOpen();
    };
    ws.onmessage = (e: MessageEvent<string>) => this.receive(e.data);
    ws.onclose = () => {
      this.ws = null;
      for (const p of this.pending.values()) p.reject(new Error('the connection to the daemon closed'));
      this.pending.clear();
      this.streams.clear();
      const wait = BACKOFF_MS[Math.min(this.failures++, BACKOFF_MS.length - 1)] ?? 5000;
      this.onLink('down', `disconnected; retrying in ${Math.round(wait / 1000)} s`);
      setTimeout(() => this.connect(), wait);
    };
  }

  request(method: string, params: Record<string, unknown> = {}, onStream?: (ev: StreamEvent) => void): Promise<unknown> {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('not connected to the daemon'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onStream ? { onStream } : {}) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  }

  private receive(text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof m.stream_id === 'string' && typeof m.event === 'string') {
      const handler = this.streams.get(m.stream_id);
      if (m.event === 'exit' || m.event === 'error') this.streams.delete(m.stream_id);
      handler?.(m as unknown as StreamEvent);
      return;
    }
    if (typeof m.ok === 'boolean' && 'id' in m) {
      const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
      if (p === undefined) return;
      this.pending.delete(m.id as number);
      if (m.ok) {
        const data = m.data as { stream_id?: unknown } | undefined;
        // Registered before any event of the stream is read: events follow their response.
        if (p.onStream && typeof data?.stream_id === 'string') this.streams.set(data.stream_id, p.onStream);
        p.resolve(m.data);
      } else {
        const err = m.error as { code?: string; message?: string } | undefined;
        p.reject(new Error(`${err?.code ?? 'ERROR'}: ${err?.message ?? 'the daemon refused'}`));
      }
      return;
    }
    if (typeof m.event === 'string') this.onFeed(m as unknown as FeedMessage);
  }
}
