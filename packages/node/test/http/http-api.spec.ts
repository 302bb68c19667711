import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import { createHttpApi, type HttpApiInit, type HttpResponse } from '../../src/http/http-api.js'
import { MetricsRegistry } from '../../src/observability/metrics.js'
import type { InvocationView } from '../../src/peer-api.js'
import { FakePeerApi, SELF, TRACE, event } from '../fake-peer-api.js'
import { captureLogger } from './capture-logger.js'

function setup(init: HttpApiInit = {}) {
  const api = new FakePeerApi()
  return { api, http: createHttpApi(api, init) }
}

function jsonOf(res: HttpResponse): unknown {
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
  return JSON.parse(res.body.toString('utf8'))
}

function errorOf(res: HttpResponse): { code: string; message: string } {
  const body = jsonOf(res) as { error: { code: string; message: string } }
  expect(Object.keys(body)).toEqual(['error'])
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message'])
  return body.error
}

const JSON_HEADERS = { 'content-type': 'application/json' }

function post(body: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return {
    headers,
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  }
}

const INVOKE = '/v1/owners/acme/functions/resize/invocations'

afterEach(() => {
  vi.useRealTimers()
})

describe('GET routes', () => {
  it('answers health with the peer id and version', async () => {
    const { http } = setup()
    const res = await http.request('GET', '/v1/health')
    expect(res.status).toBe(200)
    expect(jsonOf(res)).toEqual({ ok: true, peerId: SELF, version: '0.1.0-test' })
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['content-length']).toBeUndefined()
  })

  it('lists the mesh peers with itself', async () => {
    const { api, http } = setup()
    const res = await http.request('GET', '/v1/mesh/peers')
    expect(res.status).toBe(200)
    expect(jsonOf(res)).toEqual({ self: SELF, peers: api.peerList })
  })

  it('lists mesh-wide schedulers, or only local ones with ?local', async () => {
    const { api, http } = setup()
    for (const [query, local] of [
      ['', false],
      ['?local=1', true],
      ['?local=true', true],
      ['?local', true],
      ['?local=0', false],
      ['?local=false&other=x', false],
    ] as const) {
      const res = await http.request('GET', `/v1/mesh/schedulers${query}`)
      expect(res.status, query).toBe(200)
      expect(api.schedulerCalls.at(-1), query).toBe(local)
      expect(jsonOf(res)).toEqual({ schedulers: api.schedulers(local) })
    }
  })

  it('refuses a local flag it cannot read', async () => {
    const { http } = setup()
    const res = await http.request('GET', '/v1/mesh/schedulers?local=yes')
    expect(res.status).toBe(400)
    expect(errorOf(res)).toEqual({
      code: 'bad-request',
      message: "query parameter 'local' must be 1 or 0, got yes",
    })
  })

  it('finds an invocation, percent-decoding its id', async () => {
    const { api, http } = setup()
    const view = { id: 'inv 1/2', status: 'running', peerId: SELF } as const
    api.invocations.set('inv 1/2', view)
    const res = await http.request('GET', '/v1/invocations/inv%201%2F2')
    expect(res.status).toBe(200)
    expect(jsonOf(res)).toEqual(view)
  })

  it('answers 404 unknown-invocation for an id nobody knows', async () => {
    const { http } = setup()
    const res = await http.request('GET', '/v1/invocations/nope')
    expect(res.status).toBe(404)
    expect(errorOf(res)).toEqual({
      code: 'unknown-invocation',
      message: 'no peer knows invocation "nope"',
    })
  })

  it('refuses an invocation id that is too long or has control characters', async () => {
    const { http } = setup()
    for (const id of ['x'.repeat(257), 'a%0Ab']) {
      const res = await http.request('GET', `/v1/invocations/${id}`)
      expect(res.status).toBe(400)
      expect(errorOf(res).code).toBe('bad-request')
    }
  })

  it('serves the metrics text in the Prometheus content type', async () => {
    const { api, http } = setup()
    const res = await http.request('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.body.toString()).toBe(api.metrics)
  })

  it('serves metrics text that the peer answers asynchronously', async () => {
    const { api, http } = setup()
    Object.assign(api, { metricsText: () => Promise.resolve('chorus_up 2\n') })
    const res = await http.request('GET', '/metrics')
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe('chorus_up 2\n')
  })
})

describe('the hono app', () => {
  it('answers in process through app.request(), errors included', async () => {
    const { http } = setup()
    const health = await http.app.request('/v1/health')
    expect(health.status).toBe(200)
    expect(health.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await health.json()).toEqual({ ok: true, peerId: SELF, version: '0.1.0-test' })
    const missing = await http.app.request('/v1/nope', { method: 'POST' })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({
      error: { code: 'not-found', message: 'no route for POST /v1/nope' },
    })
  })

  it('reads typed, checked parameters from app.request() too', async () => {
    const { api, http } = setup()
    const res = await http.app.request('/v1/owners/acme/functions/img%2Fresize/invocations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 1, wait: false }),
    })
    expect(res.status).toBe(202)
    expect(api.invokes).toEqual([{ owner: 'acme', fn: 'img/resize', input: 1, wait: false }])
    const bad = await http.app.request('/v1/owners/acme/functions/a%20b')
    expect(bad.status).toBe(400)
  })
})

describe('POST invocations', () => {
  it('waits by default and answers 200 with the invocation', async () => {
    const { api, http } = setup()
    const res = await http.request('POST', INVOKE, post({ input: { width: 640 } }))
    expect(res.status).toBe(200)
    expect(jsonOf(res)).toEqual({
      id: 'inv-1',
      status: 'succeeded',
      output: { width: 640 },
      peerId: SELF,
    })
    expect(api.invokes).toEqual([
      { owner: 'acme', fn: 'resize', input: { width: 640 }, wait: true },
    ])
  })

  it('answers 202 with the id, status and a Location when not waiting', async () => {
    const { api, http } = setup()
    const res = await http.request(
      'POST',
      INVOKE,
      post({ input: null, priority: 0, qos: 'cost', wait: false, idempotencyKey: 'k-1' }),
    )
    expect(res.status).toBe(202)
    expect(jsonOf(res)).toEqual({ id: 'inv-1', status: 'queued' })
    expect(res.headers.location).toBe('/v1/invocations/inv-1')
    expect(api.invokes).toEqual([
      {
        owner: 'acme',
        fn: 'resize',
        input: null,
        priority: 0,
        qos: 'cost',
        wait: false,
        idempotencyKey: 'k-1',
      },
    ])
  })

  it('takes an empty body, with or without a Content-Type, as no options', async () => {
    const { api, http } = setup()
    expect((await http.request('POST', INVOKE)).status).toBe(200)
    expect((await http.request('POST', INVOKE, post(''))).status).toBe(200)
    expect(api.invokes).toEqual([
      { owner: 'acme', fn: 'resize', wait: true },
      { owner: 'acme', fn: 'resize', wait: true },
    ])
  })

  it('accepts application/json with a utf-8 charset, in any case', async () => {
    const { http } = setup()
    for (const type of ['application/json; charset=utf-8', 'Application/JSON;Charset="UTF-8"']) {
      const res = await http.request('POST', INVOKE, post({}, { 'Content-Type': type }))
      expect(res.status, type).toBe(200)
    }
  })

  it('reads function names with slashes, raw or percent-encoded, and decodes owners', async () => {
    const { api, http } = setup()
    await http.request('POST', '/v1/owners/acme/functions/images/resize/invocations')
    await http.request('POST', '/v1/owners/ac%6De/functions/images%2Fthumb/invocations')
    await http.request('POST', '/v1/owners/acme/functions/invocations/invocations')
    expect(api.invokes.map((r) => [r.owner, r.fn])).toEqual([
      ['acme', 'images/resize'],
      ['acme', 'images/thumb'],
      ['acme', 'invocations'],
    ])
  })

  it.each([
    ['/v1/owners/ac%20me/functions/f/invocations', 'owner "ac me" may only contain'],
    [`/v1/owners/${'a'.repeat(129)}/functions/f/invocations`, 'owner is longer than 128'],
    ['/v1/owners/../functions/f/invocations', "owner may not be '..'"],
    ['/v1/owners/%2E/functions/f/invocations', "owner may not be '.'"],
    ['/v1/owners/acme%2Fx/functions/f/invocations', 'owner "acme/x" may only contain'],
    ['/v1/owners/acme/functions/a//b/invocations', 'has an empty'],
    ['/v1/owners/acme/functions/a/../b/invocations', 'has an empty'],
    ['/v1/owners/acme/functions/f%3F/invocations', 'function name "f?" may only contain'],
    [`/v1/owners/acme/functions/${'f'.repeat(129)}/invocations`, 'function name is longer'],
    ['/v1/owners/acme/functions/%E0%A4%A/invocations', 'malformed percent-encoding'],
  ])('refuses the bad name in %s', async (path, message) => {
    const { api, http } = setup()
    const res = await http.request('POST', path)
    expect(res.status).toBe(400)
    const error = errorOf(res)
    expect(error.code).toBe('bad-request')
    expect(error.message).toContain(message)
    expect(api.invokes).toEqual([])
  })

  it('accepts names of exactly 128 characters', async () => {
    const { http } = setup()
    const name = 'a'.repeat(128)
    const res = await http.request('POST', `/v1/owners/${name}/functions/${name}/invocations`)
    expect(res.status).toBe(200)
  })

  it.each([
    [{ priority: 2 }, "field 'priority' must be 0 (high) or 1 (low)"],
    [{ priority: '0' }, "field 'priority'"],
    [{ qos: 'fast' }, 'field \'qos\' must be "latency" or "cost"'],
    [{ qos: null }, "field 'qos'"],
    [{ wait: 'yes' }, "field 'wait' must be true or false"],
    [{ idempotencyKey: 5 }, "field 'idempotencyKey' must be a string of 1 to 256 characters"],
    [{ idempotencyKey: '' }, "field 'idempotencyKey'"],
    [{ idempotencyKey: 'k'.repeat(257) }, "field 'idempotencyKey'"],
    [{ input: 1, idempotency_key: 'k' }, 'unknown field "idempotency_key" (allowed: input, '],
    ['{"__proto__": 1}', 'unknown field "__proto__"'],
    [[1, 2], 'the request body must be a JSON object'],
    [null, 'the request body must be a JSON object'],
    ['"text"', 'the request body must be a JSON object'],
  ])('refuses the body %j naming what is wrong', async (body, message) => {
    const { api, http } = setup()
    const raw = typeof body === 'string' ? body : JSON.stringify(body)
    const res = await http.request('POST', INVOKE, post(raw))
    expect(res.status).toBe(400)
    const error = errorOf(res)
    expect(error.code).toBe('bad-request')
    expect(error.message).toContain(message)
    expect(api.invokes).toEqual([])
  })

  it('answers 400 invalid-json to malformed JSON and to bytes that are not UTF-8', async () => {
    const { http } = setup()
    for (const body of ['{"input": ', '{input: 1}', Buffer.from([0x7b, 0xff, 0x7d])]) {
      const res = await http.request('POST', INVOKE, post(body))
      expect(res.status).toBe(400)
      const error = errorOf(res)
      expect(error.code).toBe('invalid-json')
      expect(error.message).not.toContain('    at ')
    }
  })

  it('answers 413 body-too-large beyond maxBodyBytes, and takes a body of exactly the limit', async () => {
    const { api, http } = setup({ maxBodyBytes: 64 })
    const exact = JSON.stringify({ input: 'x'.repeat(64 - 12) })
    expect(exact.length).toBe(64)
    expect((await http.request('POST', INVOKE, post(exact))).status).toBe(200)
    const res = await http.request('POST', INVOKE, post(`${exact} `))
    expect(res.status).toBe(413)
    expect(errorOf(res)).toEqual({
      code: 'body-too-large',
      message: 'the request body is larger than 64 bytes',
    })
    expect(api.invokes).toHaveLength(1)
  })

  it('takes a function deploy up to maxDeployBodyBytes (its code), other bodies up to maxBodyBytes', async () => {
    const { api, http } = setup({ maxBodyBytes: 64, maxDeployBodyBytes: 200 })
    const code = `export default async () => '${'x'.repeat(100)}'`
    const deploy = JSON.stringify({ name: 'big', runtime: 'nodejs', code })
    expect(deploy.length).toBeGreaterThan(64)
    expect(deploy.length).toBeLessThanOrEqual(200)
    const DEPLOY = '/v1/owners/acme/functions'
    expect((await http.request('POST', DEPLOY, post(deploy))).status).toBe(201)
    const tooBig = JSON.stringify({ name: 'big', runtime: 'nodejs', code: code.repeat(2) })
    const refused = await http.request('POST', DEPLOY, post(tooBig))
    expect(refused.status).toBe(413)
    expect(errorOf(refused).message).toBe('the request body is larger than 200 bytes')
    expect(api.deploys).toHaveLength(1)
    const invoke = await http.request('POST', INVOKE, post(JSON.stringify({ input: code })))
    expect(invoke.status).toBe(413)
  })

  it('answers 415 to a body that is not declared as JSON', async () => {
    const { api, http } = setup()
    const plain = await http.request('POST', INVOKE, post('{}', { 'content-type': 'text/plain' }))
    expect(plain.status).toBe(415)
    expect(errorOf(plain)).toEqual({
      code: 'unsupported-media-type',
      message: 'Content-Type must be application/json, not text/plain',
    })
    const latin = await http.request(
      'POST',
      INVOKE,
      post('{}', { 'content-type': 'application/json; charset=latin1' }),
    )
    expect(latin.status).toBe(415)
    const undeclared = await http.request('POST', INVOKE, { body: '{}' })
    expect(undeclared.status).toBe(415)
    expect(errorOf(undeclared).message).toBe('a request body needs Content-Type: application/json')
    expect(api.invokes).toEqual([])
  })

  it('answers a ChorusError from the peer with its code and mapped status', async () => {
    const { api, http } = setup()
    for (const [code, status] of [
      ['unknown-function', 404],
      ['overloaded', 503],
      ['not-responsible', 409],
      ['peer-unreachable', 502],
      ['internal', 500],
    ] as const) {
      api.invokeImpl = () => Promise.reject(new ChorusError(code, `because ${code}`))
      const res = await http.request('POST', INVOKE)
      expect(res.status, code).toBe(status)
      expect(errorOf(res)).toEqual({ code, message: `because ${code}` })
    }
  })

  it('answers 200 with a failed invocation: its failure is data, not an HTTP error', async () => {
    const { api, http } = setup()
    const failed = { id: 'i', status: 'failed', error: { code: 'crash', message: 'boom' } } as const
    api.invokeImpl = () => Promise.resolve(failed)
    const res = await http.request('POST', INVOKE)
    expect(res.status).toBe(200)
    expect(jsonOf(res)).toEqual(failed)
  })
})

describe('errors', () => {
  it('answers 404 not-found to an unknown route', async () => {
    const { http } = setup()
    for (const path of ['/', '/v1', '/v1/health/', '/v2/health', '/v1/invocations', '/nope?x=1']) {
      const res = await http.request('GET', path)
      expect(res.status, path).toBe(404)
      expect(errorOf(res).code).toBe('not-found')
    }
    expect(errorOf(await http.request('DELETE', '/nope')).message).toBe('no route for DELETE /nope')
  })

  it('answers 400 naming the name when a path parameter is empty, not 404', async () => {
    const { http } = setup()
    for (const [path, message] of [
      ['/v1/owners//functions', 'owner must not be empty'],
      ['/v1/owners/acme/functions/', 'function name must not be empty'],
      ['/v1/owners/acme/functions//invocations', 'function name must not be empty'],
      ['/v1/owners/acme/choreographies/', 'choreography name must not be empty'],
      ['/v1/invocations/', 'an invocation id has 1 to 256 characters'],
      ['/v1/invocations/%E0%A4', 'malformed percent-encoding in %E0%A4'],
    ] as const) {
      const res = await http.request(path.endsWith('invocations') ? 'POST' : 'GET', path)
      expect(res.status, path).toBe(400)
      expect(errorOf(res).message, path).toContain(message)
    }
  })

  it('serves no HEAD: 405 with Allow, and no body', async () => {
    const { http } = setup()
    for (const [path, allow] of [
      ['/v1/health', 'GET'],
      ['/v1/owners/acme/functions', 'GET, POST'],
      [INVOKE, 'POST'],
    ] as const) {
      const res = await http.request('HEAD', path)
      expect(res.status, path).toBe(405)
      expect(res.headers.allow, path).toBe(allow)
      expect(res.body.length, path).toBe(0)
    }
    expect((await http.request('HEAD', '/nope')).status).toBe(404)
  })

  it('answers 405 with Allow to a method a route does not take', async () => {
    const { http } = setup()
    const cases = [
      ['POST', '/v1/health', 'GET'],
      ['DELETE', '/v1/invocations/x', 'GET'],
      ['GET', INVOKE, 'POST'],
      ['PUT', '/metrics', 'GET'],
      ['POST', '/v1/events', 'GET'],
    ] as const
    for (const [method, path, allow] of cases) {
      const res = await http.request(method, path)
      expect(res.status, `${method} ${path}`).toBe(405)
      expect(res.headers.allow).toBe(allow)
      expect(errorOf(res).code).toBe('method-not-allowed')
    }
    expect(errorOf(await http.request('POST', '/v1/health')).message).toBe(
      'POST is not allowed on /v1/health (allowed: GET)',
    )
  })

  it('answers 500 internal, without the message or stack, when the peer throws something else', async () => {
    const { log, records } = captureLogger()
    const { api, http } = setup({ log })
    api.invokeImpl = () => Promise.reject(new TypeError('secret detail at /srv/peer.ts'))
    const rejected = await http.request('POST', INVOKE)
    api.peersImpl = () => {
      throw new RangeError('also secret')
    }
    const thrown = await http.request('GET', '/v1/mesh/peers')
    for (const res of [rejected, thrown]) {
      expect(res.status).toBe(500)
      expect(errorOf(res)).toEqual({ code: 'internal', message: 'internal error' })
      expect(res.body.toString()).not.toContain('secret')
    }
    expect(records).toHaveLength(2)
    expect(records[0]?.component).toBe('http')
    expect(records[0]?.err?.stack).toContain('TypeError: secret detail')
  })

  it('answers 500 when an answer cannot be serialised', async () => {
    const { api, http } = setup()
    api.peersImpl = () => [{ peerId: 'p', addrs: [], state: 'alive', lastSeenMs: 0, load: 1n }]
    const res = await http.request('GET', '/v1/mesh/peers')
    expect(res.status).toBe(500)
    expect(errorOf(res).code).toBe('internal')
  })

  it('answers 504 timeout when the peer takes longer than waitTimeoutMs (default 5 minutes)', async () => {
    vi.useFakeTimers()
    const { api, http } = setup()
    api.invokeImpl = () => new Promise(() => {})
    const pending = http.request('POST', INVOKE)
    await vi.advanceTimersByTimeAsync(5 * 60_000 - 1)
    let settled = false
    pending.then(() => (settled = true)).catch(() => undefined)
    await vi.advanceTimersByTimeAsync(0)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const res = await pending
    expect(res.status).toBe(504)
    expect(errorOf(res)).toEqual({ code: 'timeout', message: 'no answer within 300000 ms' })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('takes a shorter waitTimeoutMs, and clears its timer when the answer comes first', async () => {
    vi.useFakeTimers()
    const { api, http } = setup({ waitTimeoutMs: 1_000 })
    api.invocationImpl = () => new Promise(() => {})
    const pending = http.request('GET', '/v1/invocations/slow')
    await vi.advanceTimersByTimeAsync(1_000)
    expect((await pending).status).toBe(504)
    await http.request('GET', '/v1/health')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('refuses settings that are not positive integers', () => {
    const api = new FakePeerApi()
    expect(() => createHttpApi(api, { maxBodyBytes: 0 })).toThrow(RangeError)
    expect(() => createHttpApi(api, { waitTimeoutMs: 1.5 })).toThrow(RangeError)
    expect(() => createHttpApi(api, { heartbeatMs: 2 ** 31 })).toThrow(RangeError)
  })
})

describe('GET /v1/events in process', () => {
  it('streams each event as an SSE event with its JSON, and unsubscribes at the end', async () => {
    const { api, http } = setup()
    const done = new AbortController()
    const pending = http.request('GET', '/v1/events', { signal: done.signal })
    await api.whenListeners(1)
    api.emit(event('member-joined'))
    api.emit(event('scheduler-created', { owner: 'acme', note: 'two\nlines' }))
    done.abort()
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(res.body.toString()).toBe(
      `: connected to ${SELF}\n\n` +
        `event: member-joined\ndata: ${JSON.stringify(event('member-joined'))}\n\n` +
        'event: scheduler-created\n' +
        `data: ${JSON.stringify(event('scheduler-created', { owner: 'acme', note: 'two\nlines' }))}\n\n`,
    )
    expect(api.listenerCount).toBe(0)
  })

  it('subscribes nothing until a client connects, and ends at once without a signal', async () => {
    const { api, http } = setup()
    expect(api.subscriptions).toBe(0)
    const res = await http.request('GET', '/v1/events')
    expect(res.body.toString()).toBe(`: connected to ${SELF}\n\n`)
    expect(api.subscriptions).toBe(1)
    expect(api.listenerCount).toBe(0)
  })

  it('sends a heartbeat comment every 15 s while a client is connected, and no timer after', async () => {
    vi.useFakeTimers()
    const { api, http } = setup()
    expect(vi.getTimerCount()).toBe(0)
    const done = new AbortController()
    const pending = http.request('GET', '/v1/events', { signal: done.signal })
    await api.whenListeners(1)
    await vi.advanceTimersByTimeAsync(30_000)
    done.abort()
    const body = (await pending).body.toString()
    expect(body.match(/^: heartbeat$/gm)).toHaveLength(2)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('answers 500 when the peer cannot subscribe', async () => {
    const { api, http } = setup()
    api.onEventError = new Error('no events today')
    const res = await http.request('GET', '/v1/events')
    expect(res.status).toBe(500)
    expect(errorOf(res)).toEqual({ code: 'internal', message: 'internal error' })
  })

  it('drops an event that is not JSON, and keeps streaming', async () => {
    const { api, http } = setup()
    const done = new AbortController()
    const pending = http.request('GET', '/v1/events', { signal: done.signal })
    await api.whenListeners(1)
    api.emit(event('member-dead', { big: 1n }))
    api.emit(event('member-left'))
    done.abort()
    const body = (await pending).body.toString()
    expect(body).not.toContain('member-dead')
    expect(body).toContain('event: member-left\n')
  })
})

describe('metrics of the HTTP API itself', () => {
  it('counts requests by route template, method and status, and times them', async () => {
    const metrics = new MetricsRegistry()
    const { http } = setup({ metrics })
    await http.request('GET', '/v1/health')
    await http.request('GET', '/v1/health')
    await http.request('GET', '/v1/invocations/x')
    await http.request('POST', '/v1/health')
    await http.request('BREW', '/coffee')
    const text = await metrics.text()
    expect(text).toContain(
      'chorus_http_requests_total{route="/v1/health",method="GET",status="200"} 2\n',
    )
    expect(text).toContain(
      'chorus_http_requests_total{route="/v1/invocations/{id}",method="GET",status="404"} 1\n',
    )
    expect(text).toContain(
      'chorus_http_requests_total{route="/v1/health",method="POST",status="405"} 1\n',
    )
    expect(text).toContain(
      'chorus_http_requests_total{route="unmatched",method="other",status="404"} 1\n',
    )
    expect(text).toContain('chorus_http_request_duration_seconds_count{route="/v1/health"} 3\n')
    expect(text).toContain('chorus_http_event_streams 0\n')
  })
})

describe('functions', () => {
  const FUNCTIONS = '/v1/owners/acme/functions'

  it('deploys a function: 201 with its version and Location, code as bytes', async () => {
    const { api, http } = setup()
    const res = await http.request(
      'POST',
      FUNCTIONS,
      post({ name: 'img/resize', runtime: 'nodejs', code: 'export default () => 1', memoryMb: 64 }),
    )
    expect(res.status).toBe(201)
    expect(res.headers.location).toBe('/v1/owners/acme/functions/img/resize')
    expect(jsonOf(res)).toMatchObject({ name: 'img/resize', version: 1 })
    expect(api.deploys[0]).toMatchObject({ owner: 'acme', name: 'img/resize', memoryMb: 64 })
    expect(Buffer.from(api.deploys[0]?.code ?? []).toString()).toBe('export default () => 1')
  })

  it('decodes a base64 bundle', async () => {
    const { api, http } = setup()
    const bundle = Buffer.from([0x1f, 0x8b, 1, 2, 3])
    const res = await http.request(
      'POST',
      FUNCTIONS,
      post({
        name: 'p',
        runtime: 'process',
        codeBase64: bundle.toString('base64'),
        command: ['./p'],
      }),
    )
    expect(res.status).toBe(201)
    expect(Buffer.from(api.deploys[0]?.code ?? []).equals(bundle)).toBe(true)
  })

  it.each<[unknown, string]>([
    [{ runtime: 'nodejs', code: 'x' }, "field 'name' must be a string"],
    [{ name: 'f', runtime: 'nodejs', code: 'x', concurrency: 1.5 }, "field 'concurrency'"],
    [{ name: 'f', runtime: 'nodejs', code: 'x', codeBase64: 'eA==' }, 'not both'],
    [{ name: 'f', runtime: 'nodejs', code: 'x', command: ['node'] }, "takes no 'command'"],
    [{ name: 'f', runtime: 'process', command: [] }, "field 'command'"],
    [{ name: 'f', runtime: 'process', command: ['x'], code: 'y' }, "takes no 'code'"],
    [[], 'must be a JSON object'],
    ...(
      [
        [{ size: 0 }, "field 'batch.size' must be a whole number from 1 to 1000"],
        [{ size: 1001 }, "field 'batch.size' must be a whole number from 1 to 1000"],
        [{ size: 2.5 }, "field 'batch.size' must be a whole number from 1 to 1000"],
        [{ waitMs: 5 }, "field 'batch.size' must be a whole number from 1 to 1000"],
        [{ size: 4, waitMs: -1 }, "field 'batch.waitMs' must be a whole number from 0 to 60000"],
        [
          { size: 4, waitMs: 60_001 },
          "field 'batch.waitMs' must be a whole number from 0 to 60000",
        ],
        [{ size: 4, wait: 5 }, 'unknown field "batch.wait" (allowed: batch.size, batch.waitMs)'],
        [8, "field 'batch' must be an object: { size, waitMs }"],
        [{ size: 8 }, "field 'batch.size' (8) must not exceed 'concurrency' (4)"],
      ] as const
    ).map(([batch, message]): [unknown, string] => [
      { name: 'f', runtime: 'nodejs', code: 'x', concurrency: 4, batch },
      message,
    ]),
    [
      { name: 'f', runtime: 'nodejs', code: 'x', batch: { size: 2 } },
      "field 'batch.size' (2) must not exceed 'concurrency' (1)",
    ],
  ])('refuses %j with 400 and deploys nothing', async (body, message) => {
    const { api, http } = setup()
    const res = await http.request('POST', FUNCTIONS, post(body))
    expect(res.status).toBe(400)
    expect(errorOf(res).message).toContain(message)
    expect(api.deploys).toEqual([])
  })

  it('passes a batch setting on with the deploy', async () => {
    const { api, http } = setup()
    const body = { name: 'f', runtime: 'nodejs', code: 'x', concurrency: 8 }
    const res = await http.request('POST', FUNCTIONS, post({ ...body, batch: { size: 8 } }))
    expect(res.status).toBe(201)
    expect(api.deploys[0]).toMatchObject({ concurrency: 8, batch: { size: 8 } })
  })

  it('refuses a deploy without a body', async () => {
    const { http } = setup()
    const res = await http.request('POST', FUNCTIONS)
    expect(res.status).toBe(400)
    expect(errorOf(res).message).toBe('a deploy needs a JSON body')
  })

  it('lists, shows and deletes functions; 404 for unknown ones', async () => {
    const { http } = setup()
    expect(errorOf(await http.request('GET', FUNCTIONS)).code).toBe('unknown-owner')
    await http.request('POST', FUNCTIONS, post({ name: 'f', runtime: 'nodejs', code: 'x' }))
    expect(jsonOf(await http.request('GET', FUNCTIONS))).toMatchObject({
      functions: [{ name: 'f', version: 1 }],
    })
    expect(jsonOf(await http.request('GET', `${FUNCTIONS}/f`))).toMatchObject({ name: 'f' })
    const deleted = await http.request('DELETE', `${FUNCTIONS}/f`)
    expect(jsonOf(deleted)).toEqual({ name: 'f', version: 2 })
    const gone = await http.request('GET', `${FUNCTIONS}/f`)
    expect(gone.status).toBe(404)
    expect(errorOf(gone).code).toBe('unknown-function')
    expect((await http.request('DELETE', `${FUNCTIONS}/f`)).status).toBe(404)
    expect((await http.request('PUT', `${FUNCTIONS}/f`)).status).toBe(405)
    expect((await http.request('GET', `${FUNCTIONS}/f/invocations`)).status).toBe(405)
  })
})

describe('choreographies', () => {
  const CHOREOGRAPHIES = '/v1/owners/acme/choreographies'
  const DEFINITION = { sequence: [{ function: 'classify' }, { function: 'store' }] }

  /** An error body with details: `{ error: { code, message, details } }` and nothing else. */
  function detailedErrorOf(res: HttpResponse): {
    code: string
    message: string
    details: Record<string, unknown>
  } {
    const body = jsonOf(res) as {
      error: { code: string; message: string; details: Record<string, unknown> }
    }
    expect(Object.keys(body)).toEqual(['error'])
    expect(Object.keys(body.error)).toEqual(['code', 'message', 'details'])
    return body.error
  }

  it('deploys a choreography: 201 with its version, revision and Location', async () => {
    const { api, http } = setup()
    const res = await http.request(
      'POST',
      CHOREOGRAPHIES,
      post({ name: 'ingest', definition: DEFINITION }),
    )
    expect(res.status).toBe(201)
    expect(res.headers.location).toBe('/v1/owners/acme/choreographies/ingest')
    expect(jsonOf(res)).toEqual({ name: 'ingest', version: 1, revision: '1.00000000000000c0' })
    expect(api.choreographyDeploys).toEqual([
      { owner: 'acme', name: 'ingest', definition: DEFINITION },
    ])
    const again = await http.request(
      'POST',
      CHOREOGRAPHIES,
      post({ name: 'ingest', definition: DEFINITION }),
    )
    expect(jsonOf(again)).toMatchObject({ version: 2 })
  })

  it('passes any definition, null too, to the peer to validate', async () => {
    const { api, http } = setup()
    const res = await http.request('POST', CHOREOGRAPHIES, post({ name: 'n', definition: null }))
    expect(res.status).toBe(201)
    expect(api.choreographyDeploys[0]?.definition).toBeNull()
  })

  it.each([
    [{ definition: DEFINITION }, "field 'name' must be a string"],
    [{ name: 7, definition: DEFINITION }, "field 'name' must be a string"],
    [{ name: '', definition: DEFINITION }, "field 'name': choreography name must not be empty"],
    [{ name: 'a/b', definition: DEFINITION }, 'field \'name\': choreography name "a/b" may only'],
    [{ name: '..', definition: DEFINITION }, "field 'name': choreography name may not be '..'"],
    [{ name: 'x'.repeat(129), definition: DEFINITION }, 'longer than 128 characters'],
    [{ name: 'ingest' }, "field 'definition' is missing (the root step)"],
    [
      { name: 'ingest', definition: DEFINITION, version: 2 },
      'unknown field "version" (allowed: name, definition)',
    ],
    [[], 'the request body must be a JSON object'],
    ['"ingest"', 'the request body must be a JSON object'],
  ])('refuses %j with 400 naming what is wrong, and deploys nothing', async (body, message) => {
    const { api, http } = setup()
    const raw = typeof body === 'string' ? body : JSON.stringify(body)
    const res = await http.request('POST', CHOREOGRAPHIES, post(raw))
    expect(res.status).toBe(400)
    const error = errorOf(res)
    expect(error.code).toBe('bad-request')
    expect(error.message).toContain(message)
    expect(api.choreographyDeploys).toEqual([])
  })

  it('refuses a deploy without a body, and a body that is not JSON', async () => {
    const { http } = setup()
    const empty = await http.request('POST', CHOREOGRAPHIES)
    expect(empty.status).toBe(400)
    expect(errorOf(empty).message).toBe('a deploy needs a JSON body')
    const broken = await http.request('POST', CHOREOGRAPHIES, post('{"name": '))
    expect(broken.status).toBe(400)
    expect(errorOf(broken).code).toBe('invalid-json')
    const plain = await http.request(
      'POST',
      CHOREOGRAPHIES,
      post('{}', { 'content-type': 'text/yaml' }),
    )
    expect(plain.status).toBe(415)
  })

  it('answers an invalid definition 400 with every problem in details.errors', async () => {
    const { api, http } = setup()
    const errors = [
      { path: '/definition/sequence/0/function', code: 'unknown-function', message: 'no f' },
      { path: '/definition/sequence/1', code: 'unknown-field', message: 'unknown "retires"' },
    ]
    api.deployChoreographyImpl = () =>
      Promise.reject(new ChorusError('bad-request', 'choreography ingest is not valid', { errors }))
    const res = await http.request(
      'POST',
      CHOREOGRAPHIES,
      post({ name: 'ingest', definition: DEFINITION }),
    )
    expect(res.status).toBe(400)
    expect(detailedErrorOf(res)).toEqual({
      code: 'bad-request',
      message: 'choreography ingest is not valid',
      details: { errors },
    })
  })

  it('writes details as plain JSON, and leaves out details that are not JSON', async () => {
    const { log, records } = captureLogger()
    const { api, http } = setup({ log })
    api.deployChoreographyImpl = () =>
      Promise.reject(
        new ChorusError('bad-request', 'odd', { at: new Date(0), skipped: undefined, n: 1 }),
      )
    const plain = await http.request('POST', CHOREOGRAPHIES, post({ name: 'n', definition: {} }))
    expect(detailedErrorOf(plain).details).toEqual({ at: '1970-01-01T00:00:00.000Z', n: 1 })
    api.deployChoreographyImpl = () =>
      Promise.reject(new ChorusError('bad-request', 'big', { n: 1n }))
    const big = await http.request('POST', CHOREOGRAPHIES, post({ name: 'n', definition: {} }))
    expect(big.status).toBe(400)
    expect(errorOf(big)).toEqual({ code: 'bad-request', message: 'big' })
    expect(records).toHaveLength(1)
    api.deployChoreographyImpl = () => Promise.reject(new ChorusError('bad-request', 'none', {}))
    const none = await http.request('POST', CHOREOGRAPHIES, post({ name: 'n', definition: {} }))
    expect(errorOf(none)).toEqual({ code: 'bad-request', message: 'none' })
  })

  it('lists, shows and deletes choreographies; 404 for unknown ones', async () => {
    const { http } = setup()
    const unknownOwner = await http.request('GET', CHOREOGRAPHIES)
    expect(unknownOwner.status).toBe(404)
    expect(errorOf(unknownOwner).code).toBe('unknown-owner')
    await http.request('POST', CHOREOGRAPHIES, post({ name: 'ingest', definition: DEFINITION }))
    expect(jsonOf(await http.request('GET', CHOREOGRAPHIES))).toEqual({
      choreographies: [
        {
          owner: 'acme',
          name: 'ingest',
          version: 1,
          revision: '1.00000000000000c0',
          deployedAt: 1_700_000_000_000,
          definition: DEFINITION,
        },
      ],
    })
    expect(jsonOf(await http.request('GET', `${CHOREOGRAPHIES}/ingest`))).toMatchObject({
      name: 'ingest',
      definition: DEFINITION,
    })
    const deleted = await http.request('DELETE', `${CHOREOGRAPHIES}/ingest`)
    expect(deleted.status).toBe(200)
    expect(jsonOf(deleted)).toEqual({ name: 'ingest', version: 2 })
    const gone = await http.request('GET', `${CHOREOGRAPHIES}/ingest`)
    expect(gone.status).toBe(404)
    expect(errorOf(gone)).toEqual({
      code: 'unknown-choreography',
      message: 'no choreography ingest',
    })
    expect((await http.request('DELETE', `${CHOREOGRAPHIES}/ingest`)).status).toBe(404)
  })

  it('answers 405 with Allow to methods the choreography routes do not take', async () => {
    const { http } = setup()
    for (const [method, path, allow] of [
      ['PUT', CHOREOGRAPHIES, 'GET, POST'],
      ['POST', `${CHOREOGRAPHIES}/ingest`, 'GET, DELETE'],
      ['GET', `${CHOREOGRAPHIES}/ingest/invocations`, 'POST'],
    ] as const) {
      const res = await http.request(method, path)
      expect(res.status, `${method} ${path}`).toBe(405)
      expect(res.headers.allow).toBe(allow)
    }
  })

  it.each([
    ['GET', '/v1/owners/ac%20me/choreographies', 'owner "ac me" may only contain'],
    ['GET', '/v1/owners/acme/choreographies/a/b', 'choreography name "a/b" may only contain'],
    ['GET', '/v1/owners/acme/choreographies/a%2Fb', 'choreography name "a/b" may only contain'],
    ['DELETE', '/v1/owners/acme/choreographies/%2E%2E', "choreography name may not be '..'"],
    ['POST', '/v1/owners/acme/choreographies/in%3F/invocations', 'choreography name "in?"'],
    ['POST', '/v1/owners/../choreographies/x/invocations', "owner may not be '..'"],
  ])('refuses the bad name in %s %s', async (method, path, message) => {
    const { api, http } = setup()
    const res = await http.request(method, path)
    expect(res.status).toBe(400)
    expect(errorOf(res).message).toContain(message)
    expect(api.choreographyInvokes).toEqual([])
  })

  describe('invocations', () => {
    const INVOKE_CHOREOGRAPHY = `${CHOREOGRAPHIES}/ingest/invocations`

    it('waits by default and answers 200 with the view and its trace', async () => {
      const { api, http } = setup()
      const view = { id: 'run-1', status: 'succeeded', output: 3, peerId: SELF, trace: TRACE }
      api.invokeChoreographyImpl = () => Promise.resolve(view as InvocationView)
      const res = await http.request('POST', INVOKE_CHOREOGRAPHY, post({ input: { n: 1 } }))
      expect(res.status).toBe(200)
      expect(jsonOf(res)).toEqual(view)
      expect(api.choreographyInvokes).toEqual([
        { owner: 'acme', fn: 'ingest', input: { n: 1 }, wait: true },
      ])
      expect(api.invokes).toEqual([])
    })

    it('answers 202 with a Location when not waiting, and takes every invocation option', async () => {
      const { api, http } = setup()
      const res = await http.request(
        'POST',
        INVOKE_CHOREOGRAPHY,
        post({ input: null, priority: 1, qos: 'latency', wait: false, idempotencyKey: 'k' }),
      )
      expect(res.status).toBe(202)
      expect(res.headers.location).toBe('/v1/invocations/run-1')
      expect(jsonOf(res)).toEqual({ id: 'run-1', status: 'queued' })
      expect(api.choreographyInvokes).toEqual([
        {
          owner: 'acme',
          fn: 'ingest',
          input: null,
          priority: 1,
          qos: 'latency',
          wait: false,
          idempotencyKey: 'k',
        },
      ])
    })

    it('takes an empty body, and reads a choreography named "invocations"', async () => {
      const { api, http } = setup()
      expect((await http.request('POST', INVOKE_CHOREOGRAPHY)).status).toBe(200)
      await http.request('POST', `${CHOREOGRAPHIES}/invocations/invocations`)
      expect(api.choreographyInvokes.map((r) => r.fn)).toEqual(['ingest', 'invocations'])
    })

    it.each([
      [{ wait: 'no' }, "field 'wait' must be true or false"],
      [{ inputs: 1 }, 'unknown field "inputs"'],
      [[1], 'the request body must be a JSON object'],
    ])('refuses the body %j like a function invocation', async (body, message) => {
      const { api, http } = setup()
      const res = await http.request('POST', INVOKE_CHOREOGRAPHY, post(body))
      expect(res.status).toBe(400)
      expect(errorOf(res).message).toContain(message)
      expect(api.choreographyInvokes).toEqual([])
    })

    it('answers 404 unknown-choreography when the peer knows no such choreography', async () => {
      const { api, http } = setup()
      api.invokeChoreographyImpl = () =>
        Promise.reject(new ChorusError('unknown-choreography', 'no choreography ingest'))
      const res = await http.request('POST', INVOKE_CHOREOGRAPHY)
      expect(res.status).toBe(404)
      expect(errorOf(res).code).toBe('unknown-choreography')
    })
  })
})
