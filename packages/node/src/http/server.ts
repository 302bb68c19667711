/**
 * Serving the app on a socket: `@hono/node-server`'s request listener on a `node:http`
 * server, and a `close()` that lets the process exit (waiting requests answered 503, event
 * streams ended, keep-alive sockets closed).
 */
import { setMaxListeners } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  getRequestListener,
  RequestError,
  type HttpBindings as NodeBindings,
} from '@hono/node-server'
import { background } from '../background.js'
import { ChorusError } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import { errorResponse } from './http-status.js'
import { leftUnread } from './request-body.js'
import type { HttpBindings } from './route.js'

export interface HttpServer {
  /** `http://host:port`, with the port actually bound (when 0 was asked for). */
  readonly url: string
  /**
   * Stops accepting connections, answers requests still in progress 503 `shutting-down`,
   * ends open event streams and closes keep-alive sockets, so the process can exit.
   */
  close(): Promise<void>
}

export interface ServeInit {
  readonly host: string
  readonly port: number
  /** Answers one request (the app's `fetch`). */
  readonly fetch: (request: Request, env: HttpBindings) => Response | Promise<Response>
  /** Bodies declared up to this many bytes that are left unread, Node drains itself. */
  readonly maxBodyBytes: number
  readonly log: Logger
}

/** How long `close()` lets answers in flight reach their clients before cutting sockets. */
const CLOSE_GRACE_MS = 2_000

export async function serve(init: ServeInit): Promise<HttpServer> {
  const { host, port, log } = init
  const shutdown = new AbortController()
  // Every request in flight listens for the shutdown: as many as there are requests.
  setMaxListeners(0, shutdown.signal)
  const listener = getRequestListener(
    async (request, env) => {
      const { incoming, outgoing } = env as NodeBindings
      const response = await init.fetch(request, { incoming, outgoing, shutdown: shutdown.signal })
      // A body not read to its end is not read at all (it may be huge): close after answering.
      const unread = leftUnread(incoming, init.maxBodyBytes)
      if (shutdown.signal.aborted || unread) outgoing.setHeader('connection', 'close')
      if (unread) outgoing.once('finish', () => incoming.socket.destroy())
      return response
    },
    {
      // The host of a request that names none (HTTP/1.0): only its URL needs one.
      hostname: 'localhost',
      // The lightweight Request and Response: no copies on the way in or out.
      overrideGlobalObjects: true,
      // Unread bodies are this server's to handle (above): no draining behind its back.
      autoCleanupIncoming: false,
      errorHandler: (err) =>
        errorResponse(
          err instanceof RequestError
            ? new ChorusError('bad-request', `the request cannot be read: ${err.message}`)
            : err,
          log,
          'a request',
        ),
    },
  )
  const inFlight = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    inFlight.add(res)
    res.once('close', () => inFlight.delete(res))
    background(listener(req, res), (err) =>
      log.error({ err, method: req.method, url: req.url }, 'serving a request threw'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(
        new ChorusError('internal', `cannot serve HTTP on ${hostPort(host, port)}: ${err.message}`),
      )
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  server.on('error', (err) => log.warn({ err }, 'http server error'))
  const bound = (server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    url: `http://${hostPort(host, bound)}`,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        shutdown.abort()
        server.closeIdleConnections()
        await allClosed(inFlight, CLOSE_GRACE_MS)
        server.closeAllConnections()
        await closed
      })()),
  }
}

/** Resolves when every response in `open` has closed, or after `graceMs`. */
function allClosed(open: ReadonlySet<ServerResponse>, graceMs: number): Promise<void> {
  const waiting = [...open].filter((res) => !res.destroyed && !res.writableFinished)
  if (waiting.length === 0) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, graceMs)
    timer.unref()
    const closed = Promise.all(waiting.map((res) => new Promise((r) => res.once('close', r))))
    background(
      closed.then(() => {
        clearTimeout(timer)
        resolve()
      }),
      () => resolve(),
    )
  })
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
