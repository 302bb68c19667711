/**
 * The peer's HTTP API over a `PeerApi`: a routing core that needs no socket (`request()`,
 * for tests, in the manner of hono's `app.request`) and a thin `node:http` adapter
 * (`listen()`). JSON everywhere; every error is `{ "error": { "code", "message", "details"? } }`
 * with the status `http-status.ts` gives its code. The routes and the decisions behind them are in
 * this package's README, under "HTTP API".
 */
import { setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { background } from '../background.js'
import { FUNCTION_BOUNDS } from '../definitions/index.js'
import { choreographyNameProblem } from '../definitions/definition-op.js'
import { ChorusError } from '../errors.js'
import { httpStatus, type HttpErrorCode, type HttpOnlyErrorCode } from './http-status.js'
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from '../observability/metrics.js'
import { functionNameProblem, ownerNameProblem } from '../names.js'
import type {
  DeployChoreographyRequest,
  DeployFunctionRequest,
  InvocationView,
  InvokeRequest,
  PeerApi,
  PeerEvent,
} from '../peer-api.js'

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
  /** Where the causes of 500s and dropped event streams go (callers never see them). Default: nowhere. */
  readonly log?: (line: string) => void
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

export interface HttpServer {
  /** `http://host:port`, with the port actually bound (when 0 was asked for). */
  readonly url: string
  /**
   * Stops accepting connections, answers requests still in progress 503 `shutting-down`,
   * ends open event streams and closes keep-alive sockets, so the process can exit.
   */
  close(): Promise<void>
}

export interface HttpApi {
  /** Answers one request in process, without a socket. */
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

/** An event stream whose client has not taken this many bytes is dropped: it cannot keep up. */
const MAX_STREAM_BACKLOG_BYTES = 1024 * 1024
/** How long `close()` lets answers in flight reach their clients before cutting sockets. */
const CLOSE_GRACE_MS = 2_000
const MAX_INVOCATION_ID_LENGTH = 256
const MAX_IDEMPOTENCY_KEY_LENGTH = 256
const INVOKE_FIELDS = ['input', 'priority', 'qos', 'wait', 'idempotencyKey'] as const
const DEPLOY_FIELDS = [
  'name',
  'runtime',
  'code',
  'codeBase64',
  'command',
  'memoryMb',
  'timeoutMs',
  'concurrency',
  'provider',
  'url',
] as const
const CHOREOGRAPHY_DEPLOY_FIELDS = ['name', 'definition'] as const

export function createHttpApi(api: PeerApi, init: HttpApiInit = {}): HttpApi {
  return new DefaultHttpApi(api, init)
}

/** What the routing core needs of a request, wherever it came from. */
interface CoreRequest {
  readonly method: string
  /** Path and query, as sent. */
  readonly target: string
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The body, up to `limit` (default `maxBodyBytes`); rejects with `body-too-large` beyond. */
  readBody(limit?: number): Promise<Buffer>
  /** Aborts when the server shuts down. */
  readonly signal: AbortSignal
}

type CoreResponse = FullResponse | StreamResponse

interface FullResponse {
  readonly kind: 'full'
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
}

interface StreamResponse {
  readonly kind: 'stream'
  readonly status: number
  readonly headers: Record<string, string>
  /** Starts streaming into `sink`; the stream lasts until the sink closes. */
  attach(sink: StreamSink): void
}

/** Where a streaming response goes: a socket, or memory for `request()`. */
interface StreamSink {
  write(chunk: string): void
  /** Bytes written that the client has not taken yet. */
  backlog(): number
  end(): void
  /** Ends the stream without flushing what is still buffered (for a client that stalls). */
  drop(): void
  /** Runs `listener` once, when the client goes away or the stream ends. */
  onClose(listener: () => void): void
}

interface Route {
  /** The route's template: a metrics label and the path in 405 messages. */
  readonly template: string
  match(segments: readonly string[]): Record<string, string> | undefined
  readonly methods: Readonly<Record<string, Handler>>
}

interface Context {
  readonly request: CoreRequest
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
}

type Handler = (context: Context) => CoreResponse | Promise<CoreResponse>

/** The errors only the HTTP layer raises (405, 415): they are no ChorusError. */
class HttpOnlyError extends Error {
  constructor(
    readonly code: HttpOnlyErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

interface Instruments {
  readonly count: (route: string, method: string, status: number) => void
  readonly time: (route: string, seconds: number) => void
}

class DefaultHttpApi implements HttpApi {
  readonly #api: PeerApi
  readonly #maxBodyBytes: number
  readonly #maxDeployBodyBytes: number
  readonly #waitTimeoutMs: number
  readonly #log: (line: string) => void
  readonly #events: EventHub
  readonly #routes: readonly Route[]
  readonly #instruments: Instruments | undefined

  constructor(api: PeerApi, init: HttpApiInit) {
    this.#api = api
    this.#maxBodyBytes = setting(init, 'maxBodyBytes')
    this.#maxDeployBodyBytes = setting(init, 'maxDeployBodyBytes')
    this.#waitTimeoutMs = setting(init, 'waitTimeoutMs')
    const heartbeatMs = setting(init, 'heartbeatMs')
    this.#log = init.log ?? (() => {})
    this.#events = new EventHub(api, heartbeatMs, this.#log)
    this.#instruments = init.metrics && instrument(init.metrics, this.#events)
    this.#routes = [
      literal('/v1/health', { GET: () => this.#health() }),
      literal('/v1/mesh/peers', { GET: () => json(200, { self: api.peerId, peers: api.peers() }) }),
      literal('/v1/mesh/schedulers', { GET: (c) => this.#schedulers(c) }),
      {
        template: '/v1/owners/{owner}/functions/{name}/invocations',
        match: matchInvocations('functions'),
        methods: { POST: (c) => this.#invoke(c) },
      },
      {
        template: '/v1/owners/{owner}/functions',
        match: matchCollection('functions'),
        methods: { GET: (c) => this.#functions(c), POST: (c) => this.#deploy(c) },
      },
      {
        template: '/v1/owners/{owner}/functions/{name}',
        match: matchItem('functions'),
        methods: { GET: (c) => this.#function(c), DELETE: (c) => this.#deleteFunction(c) },
      },
      {
        template: '/v1/owners/{owner}/choreographies/{name}/invocations',
        match: matchInvocations('choreographies'),
        methods: { POST: (c) => this.#invokeChoreography(c) },
      },
      {
        template: '/v1/owners/{owner}/choreographies',
        match: matchCollection('choreographies'),
        methods: {
          GET: (c) => this.#choreographies(c),
          POST: (c) => this.#deployChoreography(c),
        },
      },
      {
        template: '/v1/owners/{owner}/choreographies/{name}',
        match: matchItem('choreographies'),
        methods: {
          GET: (c) => this.#choreography(c),
          DELETE: (c) => this.#deleteChoreography(c),
        },
      },
      {
        template: '/v1/invocations/{id}',
        match: (s) =>
          s.length === 3 && s[0] === 'v1' && s[1] === 'invocations'
            ? { id: s[2] ?? '' }
            : undefined,
        methods: { GET: (c) => this.#invocation(c) },
      },
      literal('/v1/events', { GET: () => this.#eventStream() }),
      literal('/metrics', {
        GET: async () =>
          full(200, { 'content-type': METRICS_CONTENT_TYPE }, await api.metricsText()),
      }),
    ]
  }

  async request(method: string, path: string, init: HttpRequestInit = {}): Promise<HttpResponse> {
    const headers = Object.fromEntries(
      Object.entries(init.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    )
    const body =
      typeof init.body === 'string' ? Buffer.from(init.body) : (init.body ?? Buffer.alloc(0))
    const response = await this.#handle({
      method: method.toUpperCase(),
      target: path,
      headers,
      readBody: (limit = this.#maxBodyBytes) =>
        body.length > limit ? Promise.reject(tooLarge(limit)) : Promise.resolve(body),
      signal: new AbortController().signal,
    })
    if (response.kind === 'full') return response
    return {
      status: response.status,
      headers: response.headers,
      body: await collect(response, init.signal),
    }
  }

  async listen(host: string, port: number): Promise<HttpServer> {
    const server = createServer()
    const shutdown = new AbortController()
    // Every request in flight listens for the shutdown: as many as there are requests.
    setMaxListeners(0, shutdown.signal)
    const inFlight = new Set<ServerResponse>()
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      inFlight.add(res)
      res.once('close', () => inFlight.delete(res))
      background(this.#serve(req, res, shutdown.signal), (err) =>
        this.#log(`bug: serving ${req.method} ${req.url} threw: ${describe(err)}`),
      )
    })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new ChorusError(
            'internal',
            `cannot serve HTTP on ${hostPort(host, port)}: ${err.message}`,
          ),
        )
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        resolve()
      })
    })
    server.on('error', (err) => this.#log(`http server error: ${err.message}`))
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

  /** Carries one `node:http` request through the core. Never rejects. */
  async #serve(req: IncomingMessage, res: ServerResponse, shutdown: AbortSignal): Promise<void> {
    const body = bodyReader(req, this.#maxBodyBytes)
    const response = await this.#handle({
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      headers: flattenHeaders(req),
      readBody: body.read,
      signal: shutdown,
    })
    const sink = response.kind === 'stream' ? socketSink(res) : undefined
    try {
      if (res.destroyed) return
      const headers: Record<string, string> = { ...response.headers }
      // A body we did not read to its end is not read at all (it may be huge): close after answering.
      const unread = !req.complete && !body.isSmall()
      if (shutdown.aborted || unread) headers.connection = 'close'
      if (unread) res.once('finish', () => req.socket.destroy())
      if (response.kind === 'full') {
        res.writeHead(response.status, {
          ...headers,
          'content-length': String(response.body.length),
        })
        res.end(response.body)
        return
      }
      res.writeHead(response.status, headers)
      res.flushHeaders()
    } catch (err) {
      this.#log(`http: failed to answer ${req.method} ${req.url}: ${describe(err)}`)
      res.destroy()
    } finally {
      // A stream always attaches, even to a client already gone, so that it unsubscribes.
      if (response.kind === 'stream' && sink !== undefined) {
        const onShutdown = (): void => sink.end()
        shutdown.addEventListener('abort', onShutdown, { once: true })
        sink.onClose(() => shutdown.removeEventListener('abort', onShutdown))
        response.attach(sink)
        if (shutdown.aborted) sink.end()
      }
    }
  }

  /** Routes a request and turns whatever happens into a response. Never rejects. */
  async #handle(request: CoreRequest): Promise<CoreResponse> {
    const started = performance.now()
    const matched = { template: 'unmatched' }
    const work = this.#route(request, matched)
    let response: CoreResponse
    try {
      response = await this.#deadline(work, request.signal)
    } catch (err) {
      response = this.#errorResponse(err, request)
      // A stream that opens after its request gave up must not stay subscribed.
      background(
        async () => {
          const late = await work.catch(() => undefined) // its failure is answered above
          if (late?.kind === 'stream') late.attach(closedSink())
        },
        (err) => this.#log(`bug: closing a late stream threw: ${describe(err)}`),
      )
    }
    if (this.#instruments) {
      this.#instruments.count(matched.template, request.method, response.status)
      this.#instruments.time(matched.template, (performance.now() - started) / 1000)
    }
    return response
  }

  /** Finds the route and runs its handler; records in `matched` which route it was. */
  async #route(request: CoreRequest, matched: { template: string }): Promise<CoreResponse> {
    const { path, query } = splitTarget(request.target)
    const segments = path.split('/').slice(1)
    for (const route of this.#routes) {
      const params = route.match(segments)
      if (params === undefined) continue
      matched.template = route.template
      const handler = Object.hasOwn(route.methods, request.method)
        ? route.methods[request.method]
        : undefined
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ')
        throw new HttpOnlyError(
          'method-not-allowed',
          `${request.method} is not allowed on ${route.template} (allowed: ${allow})`,
          { allow },
        )
      }
      const decoded: Record<string, string> = {}
      for (const [name, raw] of Object.entries(params)) decoded[name] = decodeSegment(raw)
      return handler({ request, params: decoded, query })
    }
    throw new ChorusError('not-found', `no route for ${request.method} ${truncate(path)}`)
  }

  /** `work`, or a 504 after `waitTimeoutMs`, or a 503 when the server shuts down. */
  #deadline<T>(work: Promise<T>, shutdown: AbortSignal): Promise<T> {
    let settle = (): void => {}
    const limit = new Promise<never>((_, reject) => {
      const onShutdown = (): void =>
        reject(new ChorusError('shutting-down', 'this peer is shutting down; try another one'))
      const timer = setTimeout(
        () => reject(new ChorusError('timeout', `no answer within ${this.#waitTimeoutMs} ms`)),
        this.#waitTimeoutMs,
      )
      settle = () => {
        clearTimeout(timer)
        shutdown.removeEventListener('abort', onShutdown)
      }
      if (shutdown.aborted) onShutdown()
      else shutdown.addEventListener('abort', onShutdown, { once: true })
    })
    return Promise.race([work, limit]).finally(settle)
  }

  #errorResponse(err: unknown, request: CoreRequest): FullResponse {
    if (err instanceof HttpOnlyError) return errorBody(err.code, err.message, err.headers)
    if (err instanceof ChorusError) {
      return errorBody(err.code, err.message, {}, jsonSafe(err.details, this.#log))
    }
    this.#log(`http: ${request.method} ${truncate(request.target)} failed: ${describe(err)}`)
    return errorBody('internal', 'internal error')
  }

  #health(): FullResponse {
    return json(200, { ok: true, peerId: this.#api.peerId, version: this.#api.version })
  }

  #schedulers({ query }: Context): FullResponse {
    const local = query.get('local')
    let localOnly = false
    if (local === '' || local === '1' || local === 'true') localOnly = true
    else if (local !== null && local !== '0' && local !== 'false') {
      throw new ChorusError(
        'bad-request',
        `query parameter 'local' must be 1 or 0, got ${truncate(local)}`,
      )
    }
    return json(200, { schedulers: this.#api.schedulers(localOnly) })
  }

  #invoke({ request, params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, functionNameProblem)
    return invokeWith(request, owner, name, (invoke) => this.#api.invoke(invoke))
  }

  #invokeChoreography({ request, params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, choreographyNameProblem)
    return invokeWith(request, owner, name, (invoke) => this.#api.invokeChoreography(invoke))
  }

  async #deploy({ request, params }: Context): Promise<FullResponse> {
    const owner = params.owner ?? ''
    const problem = ownerNameProblem(owner)
    if (problem !== undefined) throw new ChorusError('bad-request', problem)
    const body = await readJsonBody(request, this.#maxDeployBodyBytes)
    if (body === undefined) throw new ChorusError('bad-request', 'a deploy needs a JSON body')
    const deploy = deployRequest(owner, body)
    const deployed = await this.#api.deployFunction(deploy)
    return json(201, deployed, { location: itemPath(owner, 'functions', deploy.name) })
  }

  async #functions({ params }: Context): Promise<FullResponse> {
    const owner = checkedOwner(params)
    return json(200, { functions: await this.#api.functions(owner) })
  }

  async #function({ params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, functionNameProblem)
    return json(200, await this.#api.function(owner, name))
  }

  async #deleteFunction({ params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, functionNameProblem)
    return json(200, await this.#api.deleteFunction(owner, name))
  }

  async #deployChoreography({ request, params }: Context): Promise<FullResponse> {
    const owner = checkedOwner(params)
    const body = await readJsonBody(request)
    if (body === undefined) throw new ChorusError('bad-request', 'a deploy needs a JSON body')
    const deploy = deployChoreographyRequest(owner, body)
    const deployed = await this.#api.deployChoreography(deploy)
    return json(201, deployed, { location: itemPath(owner, 'choreographies', deploy.name) })
  }

  async #choreographies({ params }: Context): Promise<FullResponse> {
    const owner = checkedOwner(params)
    return json(200, { choreographies: await this.#api.choreographies(owner) })
  }

  async #choreography({ params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, choreographyNameProblem)
    return json(200, await this.#api.choreography(owner, name))
  }

  async #deleteChoreography({ params }: Context): Promise<FullResponse> {
    const { owner, name } = checkedName(params, choreographyNameProblem)
    return json(200, await this.#api.deleteChoreography(owner, name))
  }

  async #invocation({ params }: Context): Promise<FullResponse> {
    const id = params.id ?? ''
    if (id.length === 0 || id.length > MAX_INVOCATION_ID_LENGTH || /\p{Cc}/u.test(id)) {
      throw new ChorusError(
        'bad-request',
        `an invocation id has 1 to ${MAX_INVOCATION_ID_LENGTH} characters and no control characters`,
      )
    }
    const view = await this.#api.invocation(id)
    if (view === undefined) {
      throw new ChorusError('unknown-invocation', `no peer knows invocation ${JSON.stringify(id)}`)
    }
    return json(200, view)
  }

  #eventStream(): StreamResponse {
    // Subscribing here, before any header is sent, lets a failure still answer 500.
    const attach = this.#events.open()
    return {
      kind: 'stream',
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
      attach,
    }
  }
}

/**
 * Fans the peer's events out to the connected event streams. It holds a subscription to
 * `api.onEvent` and a heartbeat timer only while a client is connected (or connecting).
 */
class EventHub {
  readonly #api: PeerApi
  readonly #heartbeatMs: number
  readonly #log: (line: string) => void
  readonly #clients = new Set<StreamSink>()
  /** Streams answered but not attached yet: what they miss meanwhile is kept for them. */
  readonly #connecting = new Set<string[]>()
  #unsubscribe: (() => void) | undefined
  #heartbeat: ReturnType<typeof setInterval> | undefined

  constructor(api: PeerApi, heartbeatMs: number, log: (line: string) => void) {
    this.#api = api
    this.#heartbeatMs = heartbeatMs
    this.#log = log
  }

  get size(): number {
    return this.#clients.size
  }

  /**
   * Subscribes to the peer's events, unless already subscribed, for a client about to
   * connect; throws what `onEvent` throws. Returns what attaches the client's stream.
   */
  open(): (sink: StreamSink) => void {
    const missed: string[] = []
    this.#connecting.add(missed)
    try {
      this.#unsubscribe ??= this.#api.onEvent((event) => this.#publish(event))
    } catch (err) {
      this.#connecting.delete(missed)
      throw err
    }
    return (sink) => {
      this.#connecting.delete(missed)
      this.#clients.add(sink)
      this.#heartbeat ??= setInterval(() => this.#broadcast(': heartbeat\n\n'), this.#heartbeatMs)
      sink.onClose(() => this.#remove(sink))
      sink.write(`: connected to ${this.#api.peerId}\n\n`)
      for (const chunk of missed) sink.write(chunk)
    }
  }

  #remove(sink: StreamSink): void {
    this.#clients.delete(sink)
    if (this.#clients.size > 0 || this.#connecting.size > 0) return
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    try {
      unsubscribe?.()
    } catch (err) {
      this.#log(`events: unsubscribing failed: ${describe(err)}`)
    }
  }

  #publish(event: PeerEvent): void {
    let chunk: string
    try {
      // JSON never contains a raw line break, so `data` stays one line.
      const type = String(event.type).replace(/[\r\n]/g, ' ')
      chunk = `event: ${type}\ndata: ${JSON.stringify(event)}\n\n`
    } catch (err) {
      this.#log(`events: dropped an event that is not JSON: ${describe(err)}`)
      return
    }
    for (const missed of this.#connecting) missed.push(chunk)
    this.#broadcast(chunk)
  }

  #broadcast(chunk: string): void {
    for (const sink of this.#clients) {
      if (sink.backlog() > MAX_STREAM_BACKLOG_BYTES) {
        this.#log('events: dropped a client that does not keep up')
        sink.drop()
      } else {
        sink.write(chunk)
      }
    }
  }
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

function literal(path: string, methods: Record<string, Handler>): Route {
  const expected = path.split('/').slice(1)
  return {
    template: path,
    match: (segments) =>
      segments.length === expected.length && segments.every((s, i) => s === expected[i])
        ? {}
        : undefined,
    methods,
  }
}

type Collection = 'functions' | 'choreographies'
type Matcher = Route['match']

/** `v1/owners/{owner}/{collection}`. */
function matchCollection(collection: Collection): Matcher {
  return (s) =>
    s.length === 4 && s[0] === 'v1' && s[1] === 'owners' && s[3] === collection
      ? { owner: s[2] ?? '' }
      : undefined
}

/**
 * `v1/owners/{owner}/{collection}/{name...}/invocations`: the name may span segments (a
 * function's may hold '/'; a choreography's may not, and its check says so precisely).
 */
function matchInvocations(collection: Collection): Matcher {
  return (s) => {
    if (s.length < 6 || s[0] !== 'v1' || s[1] !== 'owners' || s[3] !== collection) return undefined
    if (s[s.length - 1] !== 'invocations') return undefined
    return { owner: s[2] ?? '', name: s.slice(4, -1).join('/') }
  }
}

/** `…/{collection}/{name}` (a name may have segments), but not `…/{name}/invocations`. */
function matchItem(collection: Collection): Matcher {
  return (s) => {
    if (s.length < 5 || s[0] !== 'v1' || s[1] !== 'owners' || s[3] !== collection) return undefined
    if (s.length >= 6 && s[s.length - 1] === 'invocations') return undefined
    return { owner: s[2] ?? '', name: s.slice(4).join('/') }
  }
}

function checkedOwner(params: Readonly<Record<string, string>>): string {
  const owner = params.owner ?? ''
  const problem = ownerNameProblem(owner)
  if (problem !== undefined) throw new ChorusError('bad-request', problem)
  return owner
}

function checkedName(
  params: Readonly<Record<string, string>>,
  nameProblem: (name: string) => string | undefined,
): { owner: string; name: string } {
  const owner = params.owner ?? ''
  const name = params.name ?? ''
  const problem = ownerNameProblem(owner) ?? nameProblem(name)
  if (problem !== undefined) throw new ChorusError('bad-request', problem)
  return { owner, name }
}

/** Where a deployed function or choreography lives: its `Location`. */
function itemPath(owner: string, collection: Collection, name: string): string {
  const encoded = name.split('/').map(encodeURIComponent).join('/')
  return `/v1/owners/${encodeURIComponent(owner)}/${collection}/${encoded}`
}

/** Reads an invocation body, submits it with `submit`, and answers 200 (waited) or 202. */
async function invokeWith(
  request: CoreRequest,
  owner: string,
  name: string,
  submit: (invoke: InvokeRequest) => Promise<InvocationView>,
): Promise<FullResponse> {
  const body = await readJsonBody(request)
  const invoke = invokeRequest(owner, name, body === undefined ? {} : body)
  const view = await submit(invoke)
  if (invoke.wait === true) return json(200, view)
  return json(
    202,
    { id: view.id, status: view.status },
    { location: `/v1/invocations/${encodeURIComponent(view.id)}` },
  )
}

/**
 * The request's JSON body, or undefined when it has none. A body needs
 * `Content-Type: application/json` (415 otherwise); bad UTF-8 or JSON is 400 `invalid-json`.
 */
async function readJsonBody(request: CoreRequest, limit?: number): Promise<unknown> {
  const contentType = request.headers['content-type']
  if (contentType !== undefined && !isJsonMediaType(contentType)) {
    throw new HttpOnlyError(
      'unsupported-media-type',
      `Content-Type must be application/json, not ${truncate(contentType)}`,
    )
  }
  const raw = await request.readBody(limit)
  if (raw.length === 0) return undefined
  if (contentType === undefined) {
    throw new HttpOnlyError(
      'unsupported-media-type',
      'a request body needs Content-Type: application/json',
    )
  }
  return parseJson(raw)
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Checks a deploy body strictly: unknown fields and wrong types are refused by name. */
function deployRequest(owner: string, body: unknown): DeployFunctionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChorusError('bad-request', 'the request body must be a JSON object')
  }
  const bad = (message: string): never => {
    throw new ChorusError('bad-request', message)
  }
  const fields = body as Record<string, unknown>
  for (const name of Object.keys(fields)) {
    if (!(DEPLOY_FIELDS as readonly string[]).includes(name)) {
      bad(`unknown field ${JSON.stringify(truncate(name))} (allowed: ${DEPLOY_FIELDS.join(', ')})`)
    }
  }
  const { name, code, codeBase64, command, provider = 'mesh', url } = fields
  if (typeof name !== 'string') return bad("field 'name' must be a string")
  const nameProblem = functionNameProblem(name)
  if (nameProblem !== undefined) bad(`field 'name': ${nameProblem}`)
  if (provider !== 'mesh' && provider !== 'http') {
    return bad('field \'provider\' must be "mesh" or "http"')
  }
  if (provider === 'http') return httpDeployRequest(owner, name, fields, bad)
  if (url !== undefined) bad('field \'url\' is only for provider "http"')
  const { runtime } = fields
  if (runtime !== 'nodejs' && runtime !== 'process') {
    return bad('field \'runtime\' must be "nodejs" or "process"')
  }
  if (code !== undefined && (typeof code !== 'string' || code.length === 0)) {
    bad("field 'code' must be a non-empty string (a JavaScript module's source)")
  }
  if (
    codeBase64 !== undefined &&
    (typeof codeBase64 !== 'string' || codeBase64.length === 0 || !BASE64.test(codeBase64))
  ) {
    bad("field 'codeBase64' must be a non-empty base64 string (a .tgz bundle)")
  }
  if (code !== undefined && codeBase64 !== undefined) {
    bad("give either 'code' or 'codeBase64', not both")
  }
  if (command !== undefined) {
    if (
      !Array.isArray(command) ||
      command.length === 0 ||
      command.length > FUNCTION_BOUNDS.commandArgs ||
      !command.every((a) => typeof a === 'string' && a.length <= FUNCTION_BOUNDS.commandArgChars) ||
      command[0] === ''
    ) {
      bad(
        `field 'command' must be an array of 1 to ${FUNCTION_BOUNDS.commandArgs} strings ` +
          `(["executable", ...args]) with a non-empty executable`,
      )
    }
  }
  if (runtime === 'nodejs') {
    if (code === undefined && codeBase64 === undefined) {
      bad("runtime 'nodejs' needs 'code' (a module's source) or 'codeBase64' (a .tgz bundle)")
    }
    if (command !== undefined) bad("runtime 'nodejs' takes no 'command'")
  } else {
    if (command === undefined) bad("runtime 'process' needs a 'command'")
    if (code !== undefined) bad("runtime 'process' takes no 'code': give 'codeBase64' (a .tgz)")
  }
  const numbers = limitFields(fields, bad)
  const bytes =
    typeof code === 'string'
      ? Buffer.from(code, 'utf8')
      : typeof codeBase64 === 'string'
        ? Buffer.from(codeBase64, 'base64')
        : undefined
  return {
    owner,
    name,
    runtime,
    ...(bytes === undefined ? {} : { code: bytes }),
    ...(command === undefined ? {} : { command: command as string[] }),
    ...numbers,
  }
}

/** The optional numeric fields of a deploy, checked against their bounds. */
function limitFields(
  fields: Record<string, unknown>,
  bad: (message: string) => never,
): Partial<Record<'memoryMb' | 'timeoutMs' | 'concurrency', number>> {
  const numbers: Partial<Record<'memoryMb' | 'timeoutMs' | 'concurrency', number>> = {}
  for (const field of ['memoryMb', 'timeoutMs', 'concurrency'] as const) {
    const value = fields[field]
    if (value === undefined) continue
    const { min, max } = FUNCTION_BOUNDS[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      bad(`field '${field}' must be a whole number from ${min} to ${max}`)
    }
    numbers[field] = value
  }
  return numbers
}

/**
 * A deploy of provider `http`: an endpoint, no code. `runtime` says nothing about an
 * external endpoint; it may be left out (it is recorded as "process": something else runs it).
 */
function httpDeployRequest(
  owner: string,
  name: string,
  fields: Record<string, unknown>,
  bad: (message: string) => never,
): DeployFunctionRequest {
  const { url, runtime = 'process' } = fields
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url) || !URL.canParse(url)) {
    return bad('provider "http" needs a \'url\': an http:// or https:// URL')
  }
  if (url.length > FUNCTION_BOUNDS.urlChars) {
    bad(`field 'url' is longer than ${FUNCTION_BOUNDS.urlChars} characters`)
  }
  if (runtime !== 'nodejs' && runtime !== 'process') {
    bad('field \'runtime\' must be "nodejs" or "process"')
  }
  for (const field of ['code', 'codeBase64', 'command'] as const) {
    if (fields[field] !== undefined) bad(`provider "http" takes no '${field}': it calls its url`)
  }
  return {
    owner,
    name,
    runtime: runtime,
    provider: 'http',
    url,
    ...limitFields(fields, bad),
  }
}

/**
 * Checks a choreography deploy's envelope: an object with a valid `name` and a `definition`,
 * nothing else. The definition itself is the peer's to validate (400 with every problem).
 */
function deployChoreographyRequest(owner: string, body: unknown): DeployChoreographyRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChorusError('bad-request', 'the request body must be a JSON object')
  }
  const fields = body as Record<string, unknown>
  for (const field of Object.keys(fields)) {
    if (!(CHOREOGRAPHY_DEPLOY_FIELDS as readonly string[]).includes(field)) {
      throw new ChorusError(
        'bad-request',
        `unknown field ${JSON.stringify(truncate(field))} ` +
          `(allowed: ${CHOREOGRAPHY_DEPLOY_FIELDS.join(', ')})`,
      )
    }
  }
  const { name, definition } = fields
  if (typeof name !== 'string') {
    throw new ChorusError('bad-request', "field 'name' must be a string")
  }
  const problem = choreographyNameProblem(name)
  if (problem !== undefined) throw new ChorusError('bad-request', `field 'name': ${problem}`)
  if (!Object.hasOwn(fields, 'definition')) {
    throw new ChorusError('bad-request', "field 'definition' is missing (the root step)")
  }
  return { owner, name, definition }
}

function splitTarget(target: string): { path: string; query: URLSearchParams } {
  let rest = target
  if (!rest.startsWith('/')) {
    // The absolute form (`GET http://host/path`) that proxies send.
    try {
      const url = new URL(rest)
      rest = url.pathname + url.search
    } catch {
      throw new ChorusError('bad-request', 'the request target must be a path')
    }
  }
  const q = rest.indexOf('?')
  return q < 0
    ? { path: rest, query: new URLSearchParams() }
    : { path: rest.slice(0, q), query: new URLSearchParams(rest.slice(q + 1)) }
}

/** Decodes one path parameter; a name split into segments keeps its '/'. */
function decodeSegment(raw: string): string {
  try {
    return raw.split('/').map(decodeURIComponent).join('/')
  } catch {
    throw new ChorusError('bad-request', `malformed percent-encoding in ${truncate(raw)}`)
  }
}

function isJsonMediaType(contentType: string): boolean {
  const [type = '', ...parameters] = contentType.split(';').map((p) => p.trim().toLowerCase())
  if (type !== 'application/json') return false
  return parameters.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p))
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function parseJson(raw: Buffer): unknown {
  let text: string
  try {
    text = UTF8.decode(raw)
  } catch {
    throw new ChorusError('invalid-json', 'the request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new ChorusError('invalid-json', `the request body is not valid JSON: ${messageOf(err)}`)
  }
}

/** Checks an invocation body strictly: unknown fields and wrong types are refused by name. */
function invokeRequest(
  owner: string,
  fn: string,
  body: unknown,
): InvokeRequest & { wait: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChorusError('bad-request', 'the request body must be a JSON object')
  }
  const fields = body as Record<string, unknown>
  for (const name of Object.keys(fields)) {
    if (!(INVOKE_FIELDS as readonly string[]).includes(name)) {
      throw new ChorusError(
        'bad-request',
        `unknown field ${JSON.stringify(truncate(name))} (allowed: ${INVOKE_FIELDS.join(', ')})`,
      )
    }
  }
  const { priority, qos, wait, idempotencyKey } = fields
  if (priority !== undefined && priority !== 0 && priority !== 1) {
    throw new ChorusError('bad-request', "field 'priority' must be 0 (high) or 1 (low)")
  }
  if (qos !== undefined && qos !== 'latency' && qos !== 'cost') {
    throw new ChorusError('bad-request', 'field \'qos\' must be "latency" or "cost"')
  }
  if (wait !== undefined && typeof wait !== 'boolean') {
    throw new ChorusError('bad-request', "field 'wait' must be true or false")
  }
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== 'string' ||
      idempotencyKey.length === 0 ||
      idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
  ) {
    throw new ChorusError(
      'bad-request',
      `field 'idempotencyKey' must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
    )
  }
  return {
    owner,
    fn,
    ...(Object.hasOwn(fields, 'input') ? { input: fields.input } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(qos !== undefined ? { qos } : {}),
    wait: wait ?? true,
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
  }
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): FullResponse {
  return full(
    status,
    { 'content-type': 'application/json; charset=utf-8', ...headers },
    JSON.stringify(value),
  )
}

function full(status: number, headers: Record<string, string>, body: string): FullResponse {
  return {
    kind: 'full',
    status,
    headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers },
    body: Buffer.from(body),
  }
}

function errorBody(
  code: HttpErrorCode,
  message: string,
  headers: Record<string, string> = {},
  details?: Readonly<Record<string, unknown>>,
): FullResponse {
  const error = details === undefined ? { code, message } : { code, message, details }
  return json(httpStatus(code), { error }, headers)
}

/**
 * An error's details as plain JSON (what `JSON.stringify` makes of them), or undefined when
 * there are none or they cannot be serialised (then the error answers without them).
 */
function jsonSafe(
  details: Readonly<Record<string, unknown>> | undefined,
  log: (line: string) => void,
): Readonly<Record<string, unknown>> | undefined {
  if (details === undefined) return undefined
  try {
    const parsed = JSON.parse(JSON.stringify(details)) as unknown
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
    return Object.keys(parsed).length === 0 ? undefined : (parsed as Record<string, unknown>)
  } catch (err) {
    log(`http: dropped error details that are not JSON: ${describe(err)}`)
    return undefined
  }
}

function tooLarge(max: number): ChorusError {
  return new ChorusError('body-too-large', `the request body is larger than ${max} bytes`)
}

/** Reads a request body up to `max` bytes, and no further. */
function bodyReader(
  req: IncomingMessage,
  max: number,
): { read: (limit?: number) => Promise<Buffer>; isSmall: () => boolean } {
  const header = req.headers['content-length']
  const declared = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined
  let reading: Promise<Buffer> | undefined
  const read = (max: number): Promise<Buffer> => {
    if (declared !== undefined && declared > max) return Promise.reject(tooLarge(max))
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      const stop = (): void => {
        req.off('data', onData)
        req.off('end', onEnd)
        req.off('error', onError)
        req.off('close', onClose)
      }
      const onData = (chunk: Buffer): void => {
        size += chunk.length
        if (size <= max) return void chunks.push(chunk)
        stop()
        req.pause()
        reject(tooLarge(max))
      }
      const onEnd = (): void => {
        stop()
        resolve(Buffer.concat(chunks, size))
      }
      const onError = (): void => {
        stop()
        reject(new ChorusError('bad-request', 'the request body could not be read'))
      }
      const onClose = (): void => {
        if (req.complete) return
        stop()
        reject(new ChorusError('bad-request', 'the client went away before sending the whole body'))
      }
      req.on('data', onData)
      req.on('end', onEnd)
      req.on('error', onError)
      req.on('close', onClose)
    })
  }
  return {
    read: (limit = max) => (reading ??= read(limit)),
    // Node drains a small unread body itself and keeps the connection alive.
    isSmall: () => declared !== undefined && declared <= max,
  }
}

function flattenHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return headers
}

function closedSink(): StreamSink {
  return {
    write: () => {},
    backlog: () => 0,
    end: () => {},
    drop: () => {},
    onClose: (listener) => queueMicrotask(listener),
  }
}

function socketSink(res: ServerResponse): StreamSink {
  return {
    write: (chunk) => {
      if (!res.writableEnded && !res.destroyed) res.write(chunk)
    },
    backlog: () => res.writableLength,
    end: () => {
      if (!res.writableEnded) res.end()
    },
    drop: () => res.destroy(),
    onClose: (listener) => {
      if (res.destroyed || res.writableFinished) queueMicrotask(listener)
      else res.once('close', listener)
    },
  }
}

/** Collects a stream response in memory until `signal` aborts (or at once without one). */
function collect(response: StreamResponse, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const chunks: string[] = []
    const listeners: (() => void)[] = []
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      signal?.removeEventListener('abort', end)
      for (const listener of listeners) listener()
      resolve(Buffer.from(chunks.join('')))
    }
    response.attach({
      write: (chunk) => {
        if (!ended) chunks.push(chunk)
      },
      backlog: () => 0,
      end,
      drop: end,
      onClose: (listener) => {
        if (ended) queueMicrotask(listener)
        else listeners.push(listener)
      },
    })
    if (signal === undefined || signal.aborted) end()
    else signal.addEventListener('abort', end, { once: true })
  })
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

/** A setting of `init`, or its default; timers take at most 2^31 - 1 ms. */
function setting(init: HttpApiInit, name: keyof typeof HTTP_API_DEFAULTS): number {
  const value = init[name] ?? HTTP_API_DEFAULTS[name]
  if (!Number.isSafeInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`${name} must be a positive integer below 2^31, got ${value}`)
  }
  return value
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

function truncate(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}

/** For logs only: callers never see a stack. */
function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? err.message
  return String(err)
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
