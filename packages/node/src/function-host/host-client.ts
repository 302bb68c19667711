/**
 * The parent's keep-alive HTTP client to one function host on 127.0.0.1. Answers are read
 * up to a byte limit and no further: a larger one is dropped (the connection with it) and
 * reported as `too-large`. Outcomes are data; nothing here throws or kills anything.
 */
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http'
import { LOOPBACK } from './port.js'

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

export class HostClient {
  readonly port: number
  readonly #agent: Agent

  constructor(port: number, maxSockets: number) {
    this.port = port
    // lifo: reuse the most recently used socket, so idle ones can age out on the host's side.
    this.#agent = new Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' })
  }

  /** POSTs a JSON body and reads the answer, at most `maxBytes` of it. */
  post(path: string, json: string, maxBytes: number): PendingPost {
    const payload = Buffer.from(json)
    let current: ClientRequest | undefined
    let settle!: (outcome: PostOutcome) => void
    let settled = false
    const outcome = new Promise<PostOutcome>((resolve) => {
      settle = (o) => {
        if (settled) return
        settled = true
        resolve(o)
      }
    })

    const attempt = (retries: number): void => {
      let answered = false
      const req = request({
        host: LOOPBACK,
        port: this.port,
        method: 'POST',
        path,
        agent: this.#agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      })
      current = req
      req.on('response', (res) => {
        answered = true
        readBody(req, res, maxBytes, settle)
      })
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the host closed while idle: the request never reached it, so
        // sending it again on a fresh connection runs nothing twice (Node's documented retry).
        const stale = error.code === 'ECONNRESET' || error.code === 'EPIPE'
        if (!settled && !answered && stale && req.reusedSocket && retries > 0) {
          attempt(retries - 1)
          return
        }
        settle({ type: 'failed', error })
      })
      req.end(payload)
    }
    attempt(1)

    return {
      outcome,
      cancel: () => {
        settle({ type: 'cancelled' })
        current?.destroy()
      },
    }
  }

  /** Closes every connection to the host. */
  close(): void {
    this.#agent.destroy()
  }
}

function readBody(
  req: ClientRequest,
  res: IncomingMessage,
  maxBytes: number,
  settle: (outcome: PostOutcome) => void,
): void {
  const declared = Number(res.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    settle({ type: 'too-large', bytes: declared })
    req.destroy()
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  res.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > maxBytes) {
      settle({ type: 'too-large', bytes: undefined })
      req.destroy()
      return
    }
    chunks.push(chunk)
  })
  res.on('end', () => {
    settle({ type: 'answered', status: res.statusCode ?? 0, body: Buffer.concat(chunks, size) })
  })
  res.on('error', (error) => settle({ type: 'failed', error }))
  res.on('close', () => {
    if (!res.complete) settle({ type: 'failed', error: new Error('connection closed mid-answer') })
  })
}
