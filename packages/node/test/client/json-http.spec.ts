/** How every request's answer, or its absence, becomes a value or a `ChorusClientError`. */
import { describe, expect, it } from 'vitest'
import { connect, type ClientFetch } from '../../src/client/index.js'
import { rejection, replies, URL_ } from './support.js'

describe('errors', () => {
  it("carries the peer's code, message, status and details", async () => {
    const errors = [{ path: '/definition/function', code: 'unknown-function', message: 'nope' }]
    const { fetch } = replies(
      { status: 404, body: { error: { code: 'unknown-function', message: 'no function x' } } },
      {
        status: 400,
        body: { error: { code: 'bad-request', message: 'invalid', details: { errors } } },
      },
    )
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const notFound = await rejection(mesh.fn('x')(1))
    expect(notFound).toMatchObject({
      name: 'ChorusClientError',
      code: 'unknown-function',
      status: 404,
      message: 'no function x',
      invocationId: undefined,
    })
    const invalid = await rejection(mesh.deployChoreography('c', {}))
    expect(invalid).toMatchObject({ code: 'bad-request', status: 400, details: { errors } })
  })

  it('calls an answer that is not the API a protocol-error, keeping its status', async () => {
    const { fetch } = replies(
      { status: 502, text: '<html><body>Bad Gateway</body></html>' },
      { status: 200, text: 'not json' },
      { status: 200, body: { status: 'succeeded' } },
    )
    const fn = connect(URL_, { owner: 'acme', fetch }).fn('x')
    const gateway = await rejection(fn())
    expect(gateway).toMatchObject({ code: 'protocol-error', status: 502 })
    expect(gateway.message).toContain('Bad Gateway')
    expect(await rejection(fn())).toMatchObject({ code: 'protocol-error', status: 200 })
    expect((await rejection(fn())).message).toMatch(/without an invocation id/)
  })

  it('tells an unreachable peer, a slow one and an aborted call apart', async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
        code: 'ECONNREFUSED',
      }),
    })
    const down = connect(URL_, { owner: 'acme', fetch: replies(refused).fetch })
    const unreachable = await rejection(down.functions())
    expect(unreachable).toMatchObject({ code: 'peer-unreachable', status: undefined })
    expect(unreachable.message).toBe(
      `cannot reach ${URL_}/v1/owners/acme/functions: connect ECONNREFUSED 127.0.0.1:1`,
    )
    expect(unreachable.cause).toBe(refused)

    // A peer that never answers: the fetch settles only when its signal aborts.
    const hanging: ClientFetch = (_, init) =>
      new Promise((_resolve, reject) =>
        init.signal.addEventListener('abort', () => reject(init.signal.reason as Error)),
      )
    const slow = connect(URL_, { owner: 'acme', fetch: hanging, timeoutMs: 20 })
    const timedOut = await rejection(slow.fn('x')(1))
    expect(timedOut).toMatchObject({ code: 'timeout', status: undefined })
    expect(timedOut.message).toMatch(/no answer from .* within 20 ms/)
    expect(await rejection(slow.fn('x')(1, { timeoutMs: 5 }))).toMatchObject({ code: 'timeout' })

    const controller = new AbortController()
    const reason = new Error('user gave up')
    const pending = slow.fn('x')(1, { signal: controller.signal, timeoutMs: 60_000 })
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
  })
})

describe("answers that are not the API's", () => {
  it('carry what came instead: its content type, and its JSON when it was JSON', async () => {
    const { fetch } = replies(
      { status: 502, text: '<html>Bad Gateway</html>', contentType: 'text/html' },
      { status: 500, body: { oops: true }, contentType: 'application/json' },
      { status: 404, body: { error: { message: 'no code here' } } },
    )
    const client = connect(URL_, { fetch })
    const page = await rejection(client.peers())
    expect(page).toMatchObject({ code: 'protocol-error', status: 502 })
    expect(page.answer).toEqual({ contentType: 'text/html', json: undefined })
    const json = await rejection(client.peers())
    expect(json.answer).toEqual({ contentType: 'application/json', json: { oops: true } })
    // An error without a code is not the API's either.
    const codeless = await rejection(client.peers())
    expect(codeless).toMatchObject({ code: 'protocol-error', status: 404 })
    expect(codeless.answer?.json).toEqual({ error: { message: 'no code here' } })
  })

  it('calls a 2xx answer with no body a protocol-error: every route answers JSON', async () => {
    const { fetch } = replies({ status: 200 })
    const empty = await rejection(connect(URL_, { fetch }).peers())
    expect(empty).toMatchObject({ code: 'protocol-error', status: 200 })
    expect(empty.message).toBe(`GET ${URL_}/v1/mesh/peers answered HTTP 200 with no body`)
    expect(empty.answer).toEqual({ contentType: undefined, json: undefined })
  })
})
