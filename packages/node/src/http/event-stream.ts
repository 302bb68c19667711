/**
 * `GET /v1/events`: the peer's events as Server-Sent Events. One `EventHub` fans them out to
 * every connected stream: it subscribes to `api.onEvent` when the first client connects,
 * formats each event once for all of them, sends a heartbeat comment while anyone listens,
 * drops a client that lets more than 1 MiB pile up unread, and unsubscribes (and stops the
 * heartbeat) when the last one leaves, so a dashboard nobody watches costs nothing.
 *
 * A stream is a `Response` whose body a `StreamSink` feeds: the same answer serves
 * `app.request()` in process and a socket through `@hono/node-server`, which pipes the body
 * with backpressure. (hono's `streamSSE` is not used: it awaits each write per client and
 * formats per client, and gives no measure of what a client has not taken yet.)
 */
import type { ServerResponse } from 'node:http'
import type { Logger } from '../observability/logger.js'
import type { PeerApi, PeerEvent } from '../peer-api.js'

/** A client whose unread backlog exceeds this many bytes is dropped: it cannot keep up. */
const MAX_STREAM_BACKLOG_BYTES = 1024 * 1024

const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
}

/** Where one client's stream goes. */
export interface StreamSink {
  write(chunk: Uint8Array): void
  /** Bytes written that the client has not taken yet. */
  backlog(): number
  /** Ends the stream after what is written (the client reads it to its end). */
  end(): void
  /** Ends the stream at once, without what is still buffered (for a client that stalls). */
  drop(): void
  /** Runs `listener` once, when the client goes away or the stream ends. */
  onClose(listener: () => void): void
}

const encoder = new TextEncoder()
const HEARTBEAT = encoder.encode(': heartbeat\n\n')

/** Fans the peer's events out to the connected streams. */
export class EventHub {
  readonly #api: PeerApi
  readonly #heartbeatMs: number
  readonly #log: Logger
  readonly #clients = new Set<StreamSink>()
  #unsubscribe: (() => void) | undefined
  #heartbeat: ReturnType<typeof setInterval> | undefined

  constructor(api: PeerApi, heartbeatMs: number, log: Logger) {
    this.#api = api
    this.#heartbeatMs = heartbeatMs
    this.#log = log
  }

  /** Clients connected now. */
  get size(): number {
    return this.#clients.size
  }

  /**
   * Connects a client: subscribes to the peer's events unless already subscribed (throwing
   * what `onEvent` throws, before anything is written), then sends the opening comment.
   */
  connect(sink: StreamSink): void {
    this.#unsubscribe ??= this.#api.onEvent((event) => this.#publish(event))
    this.#clients.add(sink)
    this.#heartbeat ??= setInterval(() => this.#broadcast(HEARTBEAT), this.#heartbeatMs)
    sink.onClose(() => this.#remove(sink))
    sink.write(encoder.encode(`: connected to ${this.#api.peerId}\n\n`))
  }

  #remove(sink: StreamSink): void {
    this.#clients.delete(sink)
    if (this.#clients.size > 0) return
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    try {
      unsubscribe?.()
    } catch (err) {
      this.#log.warn({ err }, 'unsubscribing from peer events failed')
    }
  }

  #publish(event: PeerEvent): void {
    let chunk: Uint8Array
    try {
      // JSON never contains a raw line break, so `data` stays one line.
      const type = String(event.type).replace(/[\r\n]/g, ' ')
      chunk = encoder.encode(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`)
    } catch (err) {
      this.#log.warn({ err }, 'dropped a peer event that is not JSON')
      return
    }
    this.#broadcast(chunk)
  }

  #broadcast(chunk: Uint8Array): void {
    for (const sink of this.#clients) {
      if (sink.backlog() > MAX_STREAM_BACKLOG_BYTES) {
        this.#log.warn('dropped an event stream client that does not keep up')
        sink.drop()
      } else {
        sink.write(chunk)
      }
    }
  }
}

/**
 * An event stream answer and the sink that feeds it. The stream ends when any of `endOn`
 * aborts. Over a socket (`outgoing`), a drop destroys the connection, and the socket's
 * close ends the stream whether or not the body was being piped yet.
 */
export function eventStream(
  outgoing: ServerResponse | undefined,
  endOn: readonly (AbortSignal | undefined)[],
): { response: Response; sink: StreamSink } {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let closed = false
  const listeners: (() => void)[] = []
  const close = (): void => {
    if (closed) return
    closed = true
    for (const listener of listeners.splice(0)) listener()
  }
  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c
      },
      cancel: close,
    },
    // What is queued and not yet taken by the client (or by the socket) counts in bytes.
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  )
  const sink: StreamSink = {
    write: (chunk) => {
      if (!closed) controller?.enqueue(chunk)
    },
    backlog: () => (closed ? 0 : -(controller?.desiredSize ?? 0) + (outgoing?.writableLength ?? 0)),
    end: () => {
      if (closed) return
      controller?.close()
      close()
    },
    drop: () => {
      if (closed) return
      if (outgoing === undefined) controller?.error(new Error('the client does not keep up'))
      else outgoing.destroy()
      close()
    },
    onClose: (listener) => {
      if (closed) queueMicrotask(listener)
      else listeners.push(listener)
    },
  }
  outgoing?.once('close', close)
  const end = (): void => sink.end()
  for (const signal of endOn) {
    if (signal === undefined) continue
    if (signal.aborted) {
      // After the hub has connected it (and written its opening comment).
      queueMicrotask(end)
      continue
    }
    signal.addEventListener('abort', end, { once: true })
    sink.onClose(() => signal.removeEventListener('abort', end))
  }
  return { response: new Response(body, { status: 200, headers: EVENT_STREAM_HEADERS }), sink }
}
