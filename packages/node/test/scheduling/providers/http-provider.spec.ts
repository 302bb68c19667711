/**
 * The `http` provider against a real local HTTP server: each test answers on its own path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FunctionDefinition } from '../../../src/definitions/index.js'
import {
  HttpProvider,
  type HttpProviderInit,
} from '../../../src/scheduling/providers/http-provider.js'
import type { DispatchEffect } from '../../../src/scheduling/provider.js'
import { deferred } from '../../deferred.js'
import { dispatchOf } from '../dispatch-of.js'

const OWNER = 'alice'

interface Received {
  readonly path: string
  readonly method: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

type Route = (req: IncomingMessage, res: ServerResponse) => void

const routes = new Map<string, Route>()
const received: Received[] = []
let server: Server
let base: string

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const path = req.url ?? '/'
      received.push({
        path,
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      })
      const route = routes.get(path)
      if (route === undefined) res.writeHead(599).end(`no route ${path}`)
      else route(req, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  )
})

/** Serves `path` with `route`; its url. */
function serve(path: string, route: Route): string {
  routes.set(path, route)
  return `${base}${path}`
}

/** Resolves when the server's side of this exchange is closed (answered or dropped). */
function closed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => res.on('close', () => resolve()))
}

function receivedAt(path: string): Received[] {
  return received.filter((r) => r.path === path)
}

function httpFn(
  name: string,
  url: string | undefined,
  over: Partial<FunctionDefinition> = {},
): FunctionDefinition {
  return {
    owner: OWNER,
    name,
    version: 3,
    revision: `3.${name}`,
    deployedAt: 0,
    origin: 'peer-a',
    runtime: 'process',
    provider: 'http',
    memoryMb: 128,
    timeoutMs: 5_000,
    concurrency: 4,
    ...(url === undefined ? {} : { url }),
    ...over,
  }
}

function provider(
  functions: readonly FunctionDefinition[],
  init: Omit<HttpProviderInit, 'definitions'> = {},
): HttpProvider {
  return new HttpProvider({
    definitions: {
      getFunction: (owner, name) => functions.find((f) => f.owner === owner && f.name === name),
    },
    ...init,
  })
}

function dispatchFor(fn: string): DispatchEffect {
  return dispatchOf([null], { fn, version: `3.${fn}`, worker: 'peer-a', ids: ['inv-1'] })
}

/** Runs `fn` once through acquire and the lease. */
async function call(
  p: HttpProvider,
  fn: string,
  input: unknown,
  opts: { id?: string; signal?: AbortSignal } = {},
): Promise<unknown> {
  const lease = await p.acquire(OWNER, dispatchFor(fn))
  if (lease.type !== 'ready') throw new Error(`lease is ${lease.type}`)
  return lease.run(0, opts.id ?? 'inv-1', input, opts.signal ?? new AbortController().signal)
}

/** One function `fn` at `url`, run on `input`. */
function callAt(
  url: string,
  input: unknown,
  over: Partial<FunctionDefinition> = {},
  init: Omit<HttpProviderInit, 'definitions'> = {},
  opts: { id?: string; signal?: AbortSignal } = {},
): Promise<unknown> {
  return call(provider([httpFn('fn', url, over)], init), 'fn', input, opts)
}

describe('HttpProvider.spec', () => {
  const p = provider([
    httpFn('hook', 'http://127.0.0.1:1/hook', { revision: '7.beef', concurrency: 9 }),
    { ...httpFn('local', undefined), provider: 'mesh', runtime: 'nodejs' },
  ])

  it('describes an http function with its revision and concurrency', () => {
    const spec = p.spec(OWNER, 'hook')
    expect(spec).toMatchObject({ name: 'hook', version: '7.beef', concurrency: 9 })
    // The scheduler's deadline is a backstop: never before the request's own.
    expect(spec?.timeoutMs).toBeGreaterThanOrEqual(5_000)
  })

  it("gives the scheduler the function's batch setting, and none when it has none", () => {
    const batched = provider([
      httpFn('b', 'http://127.0.0.1:1/b', { batch: { size: 4, waitMs: 5 } }),
    ])
    expect(batched.spec(OWNER, 'b')?.batch).toEqual({ size: 4, waitMs: 5 })
    expect(p.spec(OWNER, 'hook')).not.toHaveProperty('batch')
  })

  it('knows nothing of mesh functions, unknown ones, or other owners', () => {
    expect(p.spec(OWNER, 'local')).toBeUndefined()
    expect(p.spec(OWNER, 'missing')).toBeUndefined()
    expect(p.spec('bob', 'hook')).toBeUndefined()
  })

  it('refuses to acquire a mesh function or one without a url', async () => {
    await expect(p.acquire(OWNER, dispatchFor('local'))).rejects.toMatchObject({
      code: 'unknown-function',
    })
    const noUrl = provider([httpFn('nourl', undefined)])
    await expect(noUrl.acquire(OWNER, dispatchFor('nourl'))).rejects.toMatchObject({
      code: 'unknown-function',
    })
  })
})

describe('HttpProvider calls', () => {
  it('POSTs { value: input } as JSON with the invocation id and answers the JSON output', async () => {
    const url = serve('/echo', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, list: [1, 'two', null] }))
    })
    const before = Date.now()
    const output = await callAt(url, { image: 'a.png', sizes: [1, 2] }, {}, {}, { id: 'inv-42' })
    const after = Date.now()

    expect(output).toEqual({ ok: true, list: [1, 'two', null] })
    const [req] = receivedAt('/echo')
    expect(req?.method).toBe('POST')
    expect(req?.headers['content-type']).toBe('application/json')
    expect(req?.headers['x-chorus-invocation-id']).toBe('inv-42')
    expect(JSON.parse(req?.body ?? '')).toEqual({ value: { image: 'a.png', sizes: [1, 2] } })
    const deadline = Number(req?.headers['x-chorus-deadline'])
    expect(deadline).toBeGreaterThanOrEqual(before + 5_000)
    expect(deadline).toBeLessThanOrEqual(after + 5_000)
  })

  it('runs each invocation of a batch as a request of its own, with its own output', async () => {
    const url = serve('/batch', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: req.headers['x-chorus-invocation-id'] }))
    })
    const p = provider([httpFn('fn', url, { batch: { size: 3, waitMs: 10 } })])
    const ids = ['b-1', 'b-2', 'b-3']
    const dispatch = dispatchOf([1, 2, 3], { fn: 'fn', version: '3.fn', worker: 'peer-a', ids })
    const lease = await p.acquire(OWNER, dispatch)
    if (lease.type !== 'ready') throw new Error(`lease is ${lease.type}`)
    const signal = new AbortController().signal
    const outputs = await Promise.all(
      dispatch.invocations.map((inv, i) => lease.run(i, inv.id, inv.input, signal)),
    )
    expect(outputs).toEqual(ids.map((id) => ({ id })))
    expect(receivedAt('/batch').map((r) => JSON.parse(r.body) as unknown)).toEqual(
      expect.arrayContaining([{ value: 1 }, { value: 2 }, { value: 3 }]),
    )
    expect(receivedAt('/batch')).toHaveLength(3)
  })

  it('sends null for an undefined input', async () => {
    const url = serve('/undefined-input', (_req, res) => res.end('1'))
    await expect(callAt(url, undefined)).resolves.toBe(1)
    expect(JSON.parse(receivedAt('/undefined-input')[0]?.body ?? '')).toEqual({ value: null })
  })

  it('answers null for an empty answer', async () => {
    const url = serve('/empty', (_req, res) => res.writeHead(200).end())
    const noContent = serve('/no-content', (_req, res) => res.writeHead(204).end())
    await expect(callAt(url, 1)).resolves.toBeNull()
    await expect(callAt(noContent, 1)).resolves.toBeNull()
  })

  it('fails on a non-2xx answer with its status and body', async () => {
    const url = serve('/unavailable', (_req, res) => res.writeHead(503).end('overloaded, retry'))
    const bare = serve('/not-found', (_req, res) => res.writeHead(404).end())
    await expect(callAt(url, 1)).rejects.toMatchObject({
      code: 'bad-request',
      message: `${url} answered 503: overloaded, retry`,
    })
    await expect(callAt(bare, 1)).rejects.toMatchObject({ message: `${bare} answered 404` })
  })

  it('shows at most 500 characters of a failed answer', async () => {
    const url = serve('/long-error', (_req, res) =>
      res.writeHead(500).end(`${'x'.repeat(500)}${'y'.repeat(1_500)}`),
    )
    await expect(callAt(url, 1)).rejects.toMatchObject({
      message: `${url} answered 500: ${'x'.repeat(500)}…`,
    })
  })

  it('fails clearly on an answer that is not JSON', async () => {
    const url = serve('/html', (_req, res) => res.end('<html>hello</html>'))
    await expect(callAt(url, 1)).rejects.toMatchObject({
      code: 'bad-request',
      message: `${url} answered something that is not JSON`,
    })
  })

  it('takes an answer of exactly maxOutputBytes', async () => {
    const body = JSON.stringify('x'.repeat(98))
    expect(Buffer.byteLength(body)).toBe(100)
    const url = serve('/at-limit', (_req, res) => res.end(body))
    await expect(callAt(url, 1, {}, { maxOutputBytes: 100 })).resolves.toBe('x'.repeat(98))
  })

  it('refuses an answer declared larger than maxOutputBytes without reading it', async () => {
    let response!: Promise<void>
    const url = serve('/declared-large', (_req, res) => {
      response = closed(res)
      res.writeHead(200, { 'content-length': String(1_000_000) })
      // Most of the declared body never comes: reading it all would wait forever.
      res.write('"'.padEnd(1_000, 'x'))
    })
    await expect(
      callAt(url, 1, { timeoutMs: 60_000 }, { maxOutputBytes: 100 }),
    ).rejects.toMatchObject({
      code: 'bad-request',
      message: 'the output is larger than the limit of 100 bytes',
    })
    await response
  })

  it('refuses a chunked answer once it passes maxOutputBytes, without reading the rest', async () => {
    let response!: Promise<void>
    const url = serve('/chunked-large', (_req, res) => {
      response = closed(res)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('"'.padEnd(80, 'x'))
      res.write('x'.repeat(80))
      // ...and never ends.
    })
    await expect(
      callAt(url, 1, { timeoutMs: 60_000 }, { maxOutputBytes: 100 }),
    ).rejects.toMatchObject({
      code: 'bad-request',
      message: 'the output is larger than the limit of 100 bytes',
    })
    await response
  })

  it('fails with a timeout when the endpoint does not answer within timeoutMs', async () => {
    let response!: Promise<void>
    const url = serve('/silent', (_req, res) => {
      response = closed(res)
    })
    const started = Date.now()
    await expect(callAt(url, 1, { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'timeout',
      message: `${url} did not answer within its timeout of 200 ms`,
    })
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    await response
  })

  it('fails with a timeout when the answer stalls after its headers', async () => {
    const url = serve('/stalls', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"partial":')
    })
    await expect(callAt(url, 1, { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'timeout',
      message: `${url} did not answer within its timeout of 200 ms`,
    })
  })

  it('cancels the request when the run is aborted', async () => {
    const arrived = deferred<{ closed: Promise<void> }>()
    const url = serve('/cancelled', (_req, res) => arrived.resolve({ closed: closed(res) }))
    const controller = new AbortController()
    const result = callAt(url, 1, { timeoutMs: 60_000 }, {}, { signal: controller.signal })
    const { closed: response } = await arrived.promise
    controller.abort()
    await expect(result).rejects.toMatchObject({ message: 'invocation inv-1 was cancelled' })
    // The server sees its side dropped: the request really was cancelled.
    await response
  })

  it('stops reading the answer when the run is aborted mid-answer', async () => {
    const arrived = deferred<{ closed: Promise<void> }>()
    const url = serve('/cancelled-mid-answer', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('[1,')
      arrived.resolve({ closed: closed(res) })
    })
    const controller = new AbortController()
    const result = callAt(url, 1, { timeoutMs: 60_000 }, {}, { signal: controller.signal })
    const { closed: response } = await arrived.promise
    controller.abort()
    await expect(result).rejects.toThrow()
    await response
  })

  it('does not run at all with a signal that has already aborted', async () => {
    const url = serve('/never', (_req, res) => res.end('1'))
    const controller = new AbortController()
    controller.abort()
    await expect(callAt(url, 1, {}, {}, { signal: controller.signal })).rejects.toMatchObject({
      message: 'invocation inv-1 was cancelled',
    })
    expect(receivedAt('/never')).toEqual([])
  })

  it('fails, naming the url, when nothing listens there', async () => {
    const other = createServer()
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    const { port } = other.address() as AddressInfo
    await new Promise<void>((resolve) => other.close(() => resolve()))
    const url = `http://127.0.0.1:${port}/gone`
    await expect(callAt(url, 1)).rejects.toMatchObject({
      code: 'peer-unreachable',
      message: expect.stringContaining(`calling ${url} failed`) as string,
    })
  })

  it('does not follow a redirect', async () => {
    const target = serve('/redirect-target', (_req, res) => res.end('"followed"'))
    const url = serve('/moved', (_req, res) => res.writeHead(307, { location: target }).end())
    await expect(callAt(url, 1)).rejects.toMatchObject({
      message: expect.stringContaining(url) as string,
    })
    expect(receivedAt('/moved')).toHaveLength(1)
    expect(receivedAt('/redirect-target')).toEqual([])
  })
})
