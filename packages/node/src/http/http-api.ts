/**
 * The peer's HTTP API over a `PeerApi`: a hono app (`app.request()` answers in process, no
 * socket) served on a socket by `@hono/node-server` (`listen()`). JSON everywhere; every error
 * is `{ "error": { "code", "message", "details"? } }` with the status `http-status.ts` gives
 * its code. The routes are in `routes/`, their schemas in `schemas.ts`, and the OpenAPI 3.1
 * document generated from them is served at `GET /v1/openapi.json` (see docs/API.md).
 *
 * ```ts
 * const http = createHttpApi(api, { log, metrics })
 * const res = await http.app.request('/v1/health') // a Response
 * const server = await http.listen('127.0.0.1', 0) // { url, close() }
 * ```
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context, MiddlewareHandler } from 'hono'
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { MetricsRegistry } from '../observability/metrics.js'
import type { PeerApi } from '../peer-api.js'
import { EventHub } from './event-stream.js'
import { errorResponse } from './http-status.js'
import { openApiDocument } from './openapi.js'
import { OrderedRouter } from './ordered-router.js'
import { truncate } from './reply.js'
import { bindings, mountRoutes, type HttpBindings, type HttpEnv } from './route.js'
import { allRoutes } from './routes/index.js'
import { serve, type HttpServer } from './server.js'

export type { HttpServer } from './server.js'
export type { HttpBindings, HttpEnv } from './route.js'

export interface HttpApiInit {
  /** Largest request body accepted, in bytes; a larger one is answered 413. Default 1 MiB. */
  readonly maxBodyBytes?: number
  /**
   * Largest body of a function deploy, which carries its code (base64 for a bundle).
   * Default 72 MiB: a bundle as large as the code store takes (50 MiB), base64-encoded.
   */
  readonly maxDeployBodyBytes?: number
  /** How long a request may take (a waiting invocation included) before it is answered 504. Default 5 minutes. */
  readonly waitTimeoutMs?: number
  /** How often an event stream sends a heartbeat comment. Default 15 s. */
  readonly heartbeatMs?: number
  /**
   * Where the causes of 500s and dropped event streams go (callers never see them), as the
   * child `{ component: 'http' }`. Default: nowhere.
   */
  readonly log?: Logger
  /** When given, request counts and durations are recorded here (`chorus_http_*`). */
  readonly metrics?: MetricsRegistry
}

export interface HttpRequestInit {
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Buffer | string
  /**
   * Ends a streaming response (`GET /v1/events`): the promise settles, with everything streamed
   * so far, when this aborts. Without a signal a stream ends right after its opening comment.
   */
  readonly signal?: AbortSignal
}

export interface HttpResponse {
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
}

export interface HttpApi {
  /** The hono app: `app.request(path, init)` answers in process, `app.fetch` serves it anywhere. */
  readonly app: OpenAPIHono<HttpEnv>
  /**
   * Answers one request in process, with the target taken as sent (not normalised, as a
   * URL would be), and the whole body collected.
   */
  request(method: string, path: string, init?: HttpRequestInit): Promise<HttpResponse>
  /** Serves the API over HTTP on `host:port` (port 0 picks a free port). */
  listen(host: string, port: number): Promise<HttpServer>
}

export const HTTP_API_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  maxDeployBodyBytes: 72 * 1024 * 1024,
  waitTimeoutMs: 5 * 60_000,
  heartbeatMs: 15_000,
} as const

export function createHttpApi(api: PeerApi, init: HttpApiInit = {}): HttpApi {
  const maxBodyBytes = setting(init, 'maxBodyBytes')
  const maxDeployBodyBytes = setting(init, 'maxDeployBodyBytes')
  const waitTimeoutMs = setting(init, 'waitTimeoutMs')
  const heartbeatMs = setting(init, 'heartbeatMs')
  const log = (init.log ?? silentLogger()).child({ component: 'http' })
  const events = new EventHub(api, heartbeatMs, log)
  const instruments = init.metrics && instrument(init.metrics, events)

  const app = new OpenAPIHono<HttpEnv>({ router: new OrderedRouter(), getPath: requestPath })
  app.use(lifecycle(waitTimeoutMs, log, instruments))
  app.notFound((c) =>
    errorResponse(
      new ChorusError('not-found', `no route for ${c.req.method} ${truncate(c.req.path)}`),
      log,
      describe(c),
    ),
  )
  app.onError((err, c) => errorResponse(err, log, describe(c)))
  let document: string | undefined
  mountRoutes(
    app,
    allRoutes({
      api,
      events,
      maxBodyBytes,
      maxDeployBodyBytes,
      document: () => (document ??= openApiDocument(app, api.version)),
    }),
  )

  return {
    app,
    request: (method, path, requestInit) => requestInProcess(app, method, path, requestInit, log),
    listen: (host, port) => serve({ host, port, fetch: app.fetch, maxBodyBytes, log }),
  }
}

/**
 * Around every request: its deadline (504 after `waitTimeoutMs`, 503 when the server shuts
 * down; the work itself goes on) and its metrics, by the template of the route that answered.
 */
function lifecycle(
  waitTimeoutMs: number,
  log: Logger,
  instruments: Instruments | undefined,
): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const started = performance.now()
    let failed: Response | undefined
    try {
      await deadline(next(), bindings(c).shutdown, waitTimeoutMs)
    } catch (err) {
      failed = errorResponse(err, log, describe(c))
    }
    if (instruments !== undefined) {
      const template = c.get('route') ?? 'unmatched'
      instruments.count(template, c.req.method, (failed ?? c.res).status)
      instruments.time(template, (performance.now() - started) / 1000)
    }
    return failed
  }
}

/** `work`, or a 504 after `ms`, or a 503 when `shutdown` aborts. */
function deadline<T>(work: Promise<T>, shutdown: AbortSignal | undefined, ms: number): Promise<T> {
  let settle = (): void => {}
  const limit = new Promise<never>((_, reject) => {
    const onShutdown = (): void =>
      reject(new ChorusError('shutting-down', 'this peer is shutting down; try another one'))
    const timer = setTimeout(
      () => reject(new ChorusError('timeout', `no answer within ${ms} ms`)),
      ms,
    )
    settle = () => {
      clearTimeout(timer)
      shutdown?.removeEventListener('abort', onShutdown)
    }
    if (shutdown?.aborted === true) onShutdown()
    else shutdown?.addEventListener('abort', onShutdown, { once: true })
  })
  return Promise.race([work, limit]).finally(settle)
}

/**
 * The path to route on: the target as sent when the bindings have it (a socket's, or
 * `request()`'s), so that `..` and `%2E` reach the name checks instead of being resolved away.
 */
function requestPath(request: Request, options?: { env?: HttpBindings }): string {
  const env = options?.env
  const target = env?.target ?? env?.incoming?.url ?? request.url
  if (target.startsWith('/')) return pathOf(target)
  // The absolute form (`GET http://host/path`) that proxies send, and a Request's URL.
  const start = target.indexOf('/', target.indexOf('://') + 3)
  return start < 0 ? '/' : pathOf(target.slice(start))
}

function pathOf(target: string): string {
  const query = target.indexOf('?')
  return query < 0 ? target : target.slice(0, query)
}

/** For logs: the method and target. */
function describe(c: Context<HttpEnv>): string {
  const env = bindings(c)
  return `${c.req.method} ${truncate(env.target ?? env.incoming?.url ?? c.req.path)}`
}

const ENDED = AbortSignal.abort()

async function requestInProcess(
  app: OpenAPIHono<HttpEnv>,
  method: string,
  path: string,
  init: HttpRequestInit = {},
  log: Logger,
): Promise<HttpResponse> {
  const upper = method.toUpperCase()
  let request: Request
  try {
    if (!path.startsWith('/') && !URL.canParse(path)) {
      throw new ChorusError('bad-request', 'the request target must be a path')
    }
    const hasBody = upper !== 'GET' && upper !== 'HEAD' && init.body !== undefined
    request = new Request(path.startsWith('/') ? `http://localhost${path}` : path, {
      method: upper,
      ...(init.headers === undefined ? {} : { headers: init.headers }),
      // Bytes, not a string, which would declare itself text/plain.
      ...(hasBody ? { body: Buffer.from(init.body) } : {}),
    })
  } catch (err) {
    const refused =
      err instanceof ChorusError ? err : new ChorusError('bad-request', messageOf(err))
    return collected(errorResponse(refused, log, `${upper} ${truncate(path)}`))
  }
  return collected(await app.fetch(request, { target: path, streamUntil: init.signal ?? ENDED }))
}

async function collected(response: Response): Promise<HttpResponse> {
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: Buffer.from(await response.arrayBuffer()),
  }
}

interface Instruments {
  readonly count: (route: string, method: string, status: number) => void
  readonly time: (route: string, seconds: number) => void
}

function instrument(metrics: MetricsRegistry, events: EventHub): Instruments {
  const requests = metrics.counter('chorus_http_requests_total', 'HTTP requests answered.', {
    labelNames: ['route', 'method', 'status'],
  })
  const duration = metrics.histogram(
    'chorus_http_request_duration_seconds',
    'Time to answer an HTTP request (to open it, for event streams).',
    { labelNames: ['route'] },
  )
  const streams = metrics.gauge('chorus_http_event_streams', 'Event stream clients connected.')
  metrics.onCollect(() => streams.set(events.size))
  const known = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
  return {
    count: (route, method, status) =>
      requests.inc(1, { route, method: known.has(method) ? method : 'other', status }),
    time: (route, seconds) => duration.observe(seconds, { route }),
  }
}

/** A setting of `init`, or its default; timers take at most 2^31 - 1 ms. */
function setting(init: HttpApiInit, name: keyof typeof HTTP_API_DEFAULTS): number {
  const value = init[name] ?? HTTP_API_DEFAULTS[name]
  if (!Number.isSafeInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`${name} must be a positive integer below 2^31, got ${value}`)
  }
  return value
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
