/** Submitting, and waiting for a result by polling with a backoff. */
import { describe, expect, it } from 'vitest'
import { DEFAULT_POLL, connect, pollDelay, type ClientFetch } from '../../src/client/index.js'
import { FAST_POLL, rejection, replies, URL_, view } from './support.js'

describe('submit and result', () => {
  it('submits without waiting, then polls until the invocation has finished', async () => {
    const { fetch, sent } = replies(
      { status: 202, body: { id: 'i1', status: 'queued' } },
      view('queued'),
      view('running', { peerId: 'p' }),
      view('succeeded', { output: 42, peerId: 'p' }),
    )
    const mesh = connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL })
    const job = await mesh.fn('answer').submit('q', { qos: 'cost' })
    expect(job.id).toBe('i1')
    expect(sent[0]?.body).toEqual({ input: 'q', qos: 'cost', wait: false })
    expect(await job.result()).toBe(42)
    expect(sent.slice(1).map((s) => `${s.method} ${s.url}`)).toEqual(
      Array(3).fill(`GET ${URL_}/v1/invocations/i1`),
    )
    // Finished is final: asked no more.
    expect(await job.status()).toMatchObject({ status: 'succeeded', output: 42 })
    expect(await job.result()).toBe(42)
    expect(sent).toHaveLength(4)
  })

  it('rejects with the failure, or with timeout when it does not finish in time', async () => {
    const failing = replies(
      { status: 202, body: { id: 'i1', status: 'queued' } },
      view('failed', { error: { code: 'timeout', message: 'ran past 300 ms' } }),
    )
    const job = await connect(URL_, { owner: 'acme', fetch: failing.fetch, poll: FAST_POLL })
      .fn('slow')
      .submit()
    expect(await rejection(job.result())).toMatchObject({
      code: 'timeout',
      message: 'ran past 300 ms',
      invocationId: 'i1',
    })

    const running = replies(view('running'))
    const mesh = connect(URL_, { owner: 'acme', fetch: running.fetch, poll: FAST_POLL })
    const late = await rejection(mesh.invocation('i1').result({ timeoutMs: 30 }))
    expect(late).toMatchObject({ code: 'timeout', invocationId: 'i1', status: undefined })
    expect(late.message).toBe('invocation i1 did not finish within 30 ms')
    expect(running.sent.length).toBeGreaterThan(2)
  })

  it('stops waiting when its signal aborts', async () => {
    const { fetch } = replies(view('running'))
    const controller = new AbortController()
    const mesh = connect(URL_, { owner: 'acme', fetch, poll: { initialMs: 5, maxMs: 5 } })
    const waiting = mesh.invocation('i1').result({ signal: controller.signal })
    controller.abort(new Error('enough'))
    await expect(waiting).rejects.toThrow('enough')
  })

  it('rides out a few transient failures while polling, but not many, nor other errors', async () => {
    const unavailable = { status: 503, body: { error: { code: 'overloaded', message: 'busy' } } }
    const recovering = replies(unavailable, unavailable, view('succeeded', { output: 'ok' }))
    const mesh = (fetch: ClientFetch) => connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL })
    expect(await mesh(recovering.fetch).invocation('i1').result()).toBe('ok')

    const down = replies(unavailable)
    expect(await rejection(mesh(down.fetch).invocation('i1').result())).toMatchObject({
      code: 'overloaded',
      status: 503,
    })
    expect(down.sent).toHaveLength(4) // the first try and 3 more

    const gone = replies({
      status: 404,
      body: { error: { code: 'unknown-invocation', message: 'no peer knows invocation "i1"' } },
    })
    expect(await rejection(mesh(gone.fetch).invocation('i1').result())).toMatchObject({
      code: 'unknown-invocation',
      status: 404,
    })
    expect(gone.sent).toHaveLength(1)
  })

  it('backs off by doubling, up to a cap', () => {
    expect(Array.from({ length: 8 }, (_, n) => pollDelay(n, DEFAULT_POLL))).toEqual([
      25, 50, 100, 200, 400, 800, 1000, 1000,
    ])
    expect(pollDelay(5000, { initialMs: 3, maxMs: 7 })).toBe(7)
  })
})

describe('submitted', () => {
  it("keeps the peer's answer to the submit, which a handle by id does not have", async () => {
    const queued = { id: 'i1', status: 'queued' }
    const { fetch, sent } = replies({ status: 202, body: queued }, view('running', { peerId: 'p' }))
    const mesh = connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL })
    const job = await mesh.fn('f').submit(1)
    expect(job.submitted).toEqual(queued)
    // Not final: status() asks again, and `submitted` stays what the submit answered.
    expect(await job.status()).toMatchObject({ status: 'running' })
    expect(job.submitted).toEqual(queued)
    expect(sent).toHaveLength(2)
    expect(mesh.invocation('i1').submitted).toBeUndefined()
  })

  it('is the finished view when submitted with wait, and status() then asks nothing', async () => {
    const done = { id: 'i2', status: 'succeeded', output: 7, peerId: 'p' }
    const { fetch, sent } = replies({ status: 200, body: done })
    const job = await connect(URL_, { owner: 'acme', fetch }).fn('f').submit(1, { wait: true })
    expect(job.submitted).toEqual(done)
    expect(await job.status()).toEqual(done)
    expect(sent).toHaveLength(1)
  })
})
