/** A deployed function as an async function: what a call sends, and what it resolves to. */
import { describe, expect, it } from 'vitest'
import { connect } from '../../src/client/index.js'
import { rejection, replies, URL_ } from './support.js'

describe('fn', () => {
  it('invokes and waits: the output, or the failure as a ChorusClientError', async () => {
    const { fetch, sent } = replies(
      { status: 200, body: { id: 'i1', status: 'succeeded', output: { y: 2 }, peerId: 'p' } },
      {
        status: 200,
        body: {
          id: 'i2',
          status: 'failed',
          error: { code: 'internal', message: 'boom: no such widget' },
          peerId: 'p',
        },
      },
    )
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const resize = mesh.fn<{ x: number }, { y: number }>('images/resize')
    expect(resize.name).toBe('images/resize')
    expect(await resize({ x: 1 }, { priority: 0, idempotencyKey: 'k1' })).toEqual({ y: 2 })
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: `${URL_}/v1/owners/acme/functions/images/resize/invocations`,
      body: { input: { x: 1 }, priority: 0, idempotencyKey: 'k1', wait: true },
    })
    const failed = await rejection(resize({ x: 2 }))
    expect(failed).toMatchObject({
      code: 'internal',
      message: 'boom: no such widget',
      status: undefined,
      invocationId: 'i2',
      invocation: { id: 'i2', status: 'failed', peerId: 'p' },
    })
  })

  it('sends no input when none is given, and null when null is given', async () => {
    const { fetch, sent } = replies({ status: 200, body: { id: 'i', status: 'succeeded' } })
    const fn = connect(URL_, { owner: 'acme', fetch }).fn('f')
    await fn()
    await fn(null)
    expect(sent.map((s) => s.body)).toEqual([{ wait: true }, { input: null, wait: true }])
  })

  it('encodes names segment by segment', async () => {
    const { fetch, sent } = replies({ status: 200, body: { id: 'i', status: 'succeeded' } })
    const mesh = connect(URL_, { owner: 'a.b_c-d', fetch })
    await mesh.fn('img/re size')()
    await mesh.invocation('x/y?z').status()
    expect(sent.map((s) => s.url)).toEqual([
      `${URL_}/v1/owners/a.b_c-d/functions/img/re%20size/invocations`,
      `${URL_}/v1/invocations/x%2Fy%3Fz`,
    ])
  })
})
