import { describe, expect, it } from 'vitest'
import type { InvocationView } from '../../src/peer-api.js'
import { ResultStore } from '../../src/scheduling/result-store.js'

const done = (id: string, output: unknown = id): InvocationView => ({
  id,
  status: 'succeeded',
  output,
})

/** Whether `promise` has settled by the time the callbacks queued now have run. */
function settled(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    promise.then(() => true).catch(() => true),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ])
}

describe('ResultStore', () => {
  it('gives a result to every waiter, and at once to whoever waits after', async () => {
    const store = new ResultStore()
    const first = store.wait('i1')
    const second = store.wait('i1')
    expect(await settled(first)).toBe(false)
    expect(store.has('i1')).toBe(false)
    store.settle(done('i1', 42))
    expect(await first).toEqual(done('i1', 42))
    expect(await second).toEqual(done('i1', 42))
    expect(await store.wait('i1')).toEqual(done('i1', 42))
    expect(store.get('i1')).toEqual(done('i1', 42))
  })

  it('wakes only the waiters of the invocation that settled', async () => {
    const store = new ResultStore()
    const other = store.wait('i2')
    store.settle(done('i1'))
    expect(await settled(other)).toBe(false)
  })

  it('hands a waiter over without keeping a result', async () => {
    const store = new ResultStore()
    const waiting = store.wait('i1')
    const elsewhere: InvocationView = { id: 'i1', status: 'queued', peerId: 'p2' }
    store.handOver(elsewhere)
    expect(await waiting).toEqual(elsewhere)
    expect(store.has('i1')).toBe(false)
    expect(await settled(store.wait('i1'))).toBe(false)
  })

  it('forgets the oldest results beyond its capacity', () => {
    const store = new ResultStore(2)
    store.settle(done('a'))
    store.settle(done('b'))
    store.settle(done('c'))
    expect([store.has('a'), store.has('b'), store.has('c')]).toEqual([false, true, true])
  })

  it('fails every waiter with their own id, and keeps no result for them', async () => {
    const store = new ResultStore()
    const a = store.wait('a')
    const b = store.wait('b')
    const error = { code: 'shutting-down', message: 'the peer stopped' }
    store.failWaiters({ status: 'failed', error })
    expect(await a).toEqual({ id: 'a', status: 'failed', error })
    expect(await b).toEqual({ id: 'b', status: 'failed', error })
    expect(store.has('a')).toBe(false)
  })
})
