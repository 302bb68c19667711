/**
 * The parent's keep-alive HTTP/1.1 client to one function host on 127.0.0.1. Answers are
 * read up to a byte limit and no further: a larger one is dropped (the connection with it)
 * and reported as `too-large`. Outcomes are data; nothing here throws or kills anything.
 *
 * It speaks just the HTTP a host needs (one POST at a time per connection, answers framed
 * by Content-Length, chunked, or the connection's end) over plain sockets: node:http's
 * client costs several times the CPU per request, on the path every warm invocation takes.
 */
import { connect, type Socket } from 'node:net'
import { LOOPBACK } from './port.js'
import { ResponseParser, type ParsedResponse } from './response-parser.js'

export type PostOutcome =
  | { readonly type: 'answered'; readonly status: number; readonly body: Buffer }
  /** The answer is over the limit; `bytes` is its declared length when the host sent one. */
  | { readonly type: 'too-large'; readonly bytes: number | undefined }
  /** No complete answer: refused, reset, closed mid-answer. */
  | { readonly type: 'failed'; readonly error: Error }
  | { readonly type: 'cancelled' }

export interface PendingPost {
  readonly outcome: Promise<PostOutcome>
  /** Drops the request and its connection; the outcome becomes `cancelled` if not settled. */
  cancel(): void
}

/** One request on a connection: what to do with how it ends. */
interface Exchange {
  readonly parser: ResponseParser
  /** Whether any byte of the answer arrived (a request that got none may be sent again). */
  answered: boolean
  onDone(response: ParsedResponse): void
  onTooLarge(bytes: number | undefined): void
  onBroken(error: Error): void
}

/** A kept-alive socket to the host, carrying one exchange at a time. */
class Connection {
  readonly socket: Socket
  /** Requests sent on it before the current one: a reused connection may have gone stale. */
  uses = 0
  exchange: Exchange | undefined
  closed = false

  constructor(port: number, onClose: (conn: Connection) => void) {
    this.socket = connect({ host: LOOPBACK, port, noDelay: true })
    this.socket.on('data', (chunk: Buffer) => this.#data(chunk))
    this.socket.on('end', () => this.#end())
    this.socket.on('error', (error) => this.#broken(error))
    this.socket.on('close', () => {
      this.closed = true
      this.#broken(closedError())
      onClose(this)
    })
  }

  send(payload: Buffer, exchange: Exchange): void {
    this.exchange = exchange
    this.socket.write(payload)
  }

  destroy(): void {
    this.exchange = undefined
    this.socket.destroy()
  }

  #data(chunk: Buffer): void {
    const exchange = this.exchange
    if (exchange === undefined) {
      this.destroy() // bytes nobody asked for: the connection cannot be trusted
      return
    }
    exchange.answered = true
    const result = exchange.parser.push(chunk)
    this.#settle(exchange, result)
  }

  #end(): void {
    const exchange = this.exchange
    if (exchange === undefined) return
    // Closed before a byte of the answer: most likely an idle connection the host let go.
    if (!exchange.answered) this.#broken(closedError())
    else this.#settle(exchange, exchange.parser.end())
  }

  #settle(exchange: Exchange, result: ReturnType<ResponseParser['push']>): void {
    switch (result.type) {
      case 'more':
        return
      case 'done':
        this.exchange = undefined
        exchange.onDone(result.response)
        return
      case 'too-large':
        this.exchange = undefined
        exchange.onTooLarge(result.bytes)
        return
      case 'malformed':
        this.exchange = undefined
        exchange.onBroken(new Error(`the host's answer is not HTTP: ${result.message}`))
    }
  }

  #broken(error: Error): void {
    const exchange = this.exchange
    if (exchange === undefined) return
    this.exchange = undefined
    exchange.onBroken(error)
  }
}

export class HostClient {
  readonly port: number
  readonly #maxSockets: number
  /** Connections with no exchange, most recently used last. */
  readonly #idle: Connection[] = []
  /** Requests waiting for a connection (all `#maxSockets` are busy). */
  readonly #queue: (() => void)[] = []
  #open = 0
  #closed = false

  constructor(port: number, maxSockets: number) {
    this.port = port
    this.#maxSockets = Math.max(1, maxSockets)
  }

  /** POSTs a JSON body and reads the answer, at most `maxBytes` of it. */
  post(path: string, json: string, maxBytes: number): PendingPost {
    const body = Buffer.from(json)
    const payload = Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: ${LOOPBACK}:${this.port}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        'latin1',
      ),
      body,
    ])
    let current: Connection | undefined
    let settle!: (outcome: PostOutcome) => void
    let settled = false
    const outcome = new Promise<PostOutcome>((resolve) => {
      settle = (o) => {
        if (settled) return
        settled = true
        resolve(o)
      }
    })

    const send = (conn: Connection, retries: number): void => {
      current = conn
      const reused = conn.uses > 0
      conn.uses++
      const exchange: Exchange = {
        parser: new ResponseParser(maxBytes),
        answered: false,
        onDone: (response) => {
          current = undefined
          settle({ type: 'answered', status: response.status, body: response.body })
          if (response.keepAlive && !conn.closed) this.#release(conn)
          else this.#drop(conn)
        },
        onTooLarge: (bytes) => {
          current = undefined
          settle({ type: 'too-large', bytes })
          this.#drop(conn)
        },
        onBroken: (error) => {
          current = undefined
          this.#drop(conn)
          // A kept-alive connection the host closed while idle: the request never reached
          // it, so sending it again on a fresh connection runs nothing twice.
          const stale = reused && !exchange.answered && isStale(error)
          if (!settled && stale && retries > 0) send(this.#connect(), retries - 1)
          else settle({ type: 'failed', error })
        },
      }
      conn.send(payload, exchange)
    }
    const start = (): void => {
      if (settled) return
      if (this.#closed) {
        settle({ type: 'failed', error: new Error('the client is closed') })
        return
      }
      const conn = this.#take()
      if (conn === undefined) this.#queue.push(start)
      else send(conn, 1)
    }
    start()

    return {
      outcome,
      cancel: () => {
        settle({ type: 'cancelled' })
        if (current !== undefined) this.#drop(current)
      },
    }
  }

  /** Closes every connection to the host. */
  close(): void {
    this.#closed = true
    for (const conn of this.#idle.splice(0)) conn.destroy()
    for (const start of this.#queue.splice(0)) start()
  }

  /** An idle connection, or a new one while fewer than `maxSockets` are open. */
  #take(): Connection | undefined {
    for (let conn = this.#idle.pop(); conn !== undefined; conn = this.#idle.pop()) {
      if (!conn.closed) return conn
    }
    return this.#open < this.#maxSockets ? this.#connect() : undefined
  }

  #connect(): Connection {
    this.#open++
    return new Connection(this.port, (conn) => {
      this.#open--
      const at = this.#idle.indexOf(conn)
      if (at >= 0) this.#idle.splice(at, 1)
      this.#queue.shift()?.()
    })
  }

  #release(conn: Connection): void {
    const next = this.#queue.shift()
    this.#idle.push(conn)
    next?.()
  }

  /** Closes a connection that cannot carry another request; its close frees its place. */
  #drop(conn: Connection): void {
    conn.destroy()
  }
}

function closedError(): Error {
  return Object.assign(new Error('connection closed mid-answer'), { code: 'ECONNRESET' })
}

function isStale(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ECONNRESET' || code === 'EPIPE'
}
