import { describe, expect, it } from 'vitest'
import type { FunctionSpec } from '../src/index.js'
import {
  complete,
  dispatchedIds,
  effectsOf,
  makeScheduler,
  onlyDispatch,
  submit,
} from './helpers.js'

/** A function whose host runs 8 at once, batching as told. */
function fn(name: string, batch?: FunctionSpec['batch']): FunctionSpec {
  return { name, memoryMb: 256, concurrency: 8, ...(batch === undefined ? {} : { batch }) }
}

describe('batching, a setting of each function', () => {
  it('is off for a function without it: one invocation per dispatch, at once', () => {
    const s = makeScheduler({ capacity: 10, workers: { w1: 8192 }, functions: [fn('f')] })
    const effects = [0, 1, 2].flatMap((i) => submit(s, 0, `i${i}`))
    expect(effectsOf(effects, 'dispatch').map((d) => d.invocations.length)).toEqual([1, 1, 1])
  })

  it('sends a full batch at once to one host', () => {
    const s = makeScheduler({ capacity: 10, functions: [fn('f', { size: 3, waitMs: 50 })] })
    expect(submit(s, 0, 'a')).toEqual([])
    expect(submit(s, 1, 'b')).toEqual([])
    const d = onlyDispatch(submit(s, 2, 'c'))
    expect(d.invocations.map((i) => i.id)).toEqual(['a', 'b', 'c'])
    expect(s.inflight).toBe(3)
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 3 }])
  })

  it('sends a partial batch when the wait is up, whichever comes first', () => {
    const s = makeScheduler({ capacity: 10, functions: [fn('f', { size: 3, waitMs: 50 })] })
    submit(s, 0, 'a')
    submit(s, 10, 'b')
    expect(s.nextDeadline()).toBe(50)
    expect(s.handle({ type: 'tick' }, 49)).toEqual([])
    expect(dispatchedIds(s.handle({ type: 'tick' }, 50))).toEqual(['a', 'b'])
  })

  it('waits 10 ms for a batch given no wait', () => {
    const s = makeScheduler({ capacity: 10, functions: [fn('f', { size: 3 })] })
    submit(s, 0, 'a')
    expect(s.nextDeadline()).toBe(10)
  })

  it("takes each function's own setting: one batches, one does not, one batches otherwise", () => {
    const s = makeScheduler({
      capacity: 20,
      workers: { w1: 8192 },
      functions: [fn('x', { size: 2, waitMs: 50 }), fn('y'), fn('z', { size: 4, waitMs: 5 })],
    })
    expect(submit(s, 0, 'x1', { fn: 'x' })).toEqual([])
    expect(dispatchedIds(submit(s, 0, 'y1', { fn: 'y' }))).toEqual(['y1'])
    expect(submit(s, 0, 'z1', { fn: 'z' })).toEqual([])
    expect(dispatchedIds(submit(s, 0, 'y2', { fn: 'y' }))).toEqual(['y2'])
    expect(onlyDispatch(submit(s, 1, 'x2', { fn: 'x' })).invocations.map((i) => i.id)).toEqual([
      'x1',
      'x2',
    ])
    // z's batch of 4 is not full: it leaves at its own wait, 5 ms after z1.
    expect(s.nextDeadline()).toBe(5)
    expect(dispatchedIds(s.handle({ type: 'tick' }, 5))).toEqual(['z1'])
  })

  it('a redeploy changes the batching of what is queued', () => {
    const s = makeScheduler({ capacity: 10, functions: [fn('f', { size: 3, waitMs: 50 })] })
    submit(s, 0, 'a')
    submit(s, 0, 'b')
    const effects = s.handle({ type: 'function-registered', spec: { ...fn('f'), version: '2' } }, 1)
    expect(effectsOf(effects, 'dispatch').map((d) => d.invocations.length)).toEqual([1, 1])
  })

  it('takes a slot of the host for each of its invocations, and frees each as it finishes', () => {
    const s = makeScheduler({ capacity: 10, functions: [fn('f', { size: 2, waitMs: 50 })] })
    submit(s, 0, 'a')
    const d = onlyDispatch(submit(s, 0, 'b'))
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 2 }])
    complete(s, 1, 'a')
    expect(s.inflight).toBe(1)
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 1 }])
    complete(s, 2, 'b')
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 0 }])
  })

  it('never puts more in a batch than its warm host has free slots', () => {
    const s = makeScheduler({
      capacity: 10,
      workers: { w1: 256 },
      functions: [{ name: 'f', memoryMb: 256, concurrency: 3, batch: { size: 3, waitMs: 50 } }],
    })
    const first = onlyDispatch(['a', 'b', 'c'].flatMap((id) => submit(s, 0, id)))
    complete(s, 1, 'a')
    // One slot is free on the only host the worker has room for: a batch of one goes there.
    const second = effectsOf(
      ['d', 'e', 'f'].flatMap((id) => submit(s, 2, id)),
      'dispatch',
    )
    expect(second.map((d) => [d.hostId, d.invocations.length])).toEqual([[first.hostId, 1]])
  })

  it('never batches beyond the free capacity', () => {
    const s = makeScheduler({ capacity: 2, functions: [fn('f', { size: 4, waitMs: 5 })] })
    for (const id of ['a', 'b', 'c']) submit(s, 0, id)
    expect(dispatchedIds(s.handle({ type: 'tick' }, 5))).toEqual(['a', 'b'])
  })
})
