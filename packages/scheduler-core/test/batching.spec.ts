import { describe, expect, it } from 'vitest'
import {
  complete,
  dispatchedIds,
  effectsOf,
  makeScheduler,
  onlyDispatch,
  submit,
} from './helpers.js'

describe('batching', () => {
  it('is off by default: one invocation per dispatch', () => {
    const s = makeScheduler({ capacity: 10, workers: { w1: 8192 } })
    const effects = [0, 1, 2].flatMap((i) => submit(s, 0, `i${i}`))
    expect(effectsOf(effects, 'dispatch').map((d) => d.invocations.length)).toEqual([1, 1, 1])
  })

  it('sends a full batch at once to one host', () => {
    const s = makeScheduler({ capacity: 10, batchSize: 3, batchWaitMs: 50 })
    expect(submit(s, 0, 'a')).toEqual([])
    expect(submit(s, 1, 'b')).toEqual([])
    const d = onlyDispatch(submit(s, 2, 'c'))
    expect(d.invocations.map((i) => i.id)).toEqual(['a', 'b', 'c'])
    expect(s.inflight).toBe(3)
  })

  it('sends a partial batch when the wait is up, whichever comes first', () => {
    const s = makeScheduler({ capacity: 10, batchSize: 3, batchWaitMs: 50 })
    submit(s, 0, 'a')
    submit(s, 10, 'b')
    expect(s.nextDeadline()).toBe(50)
    expect(s.handle({ type: 'tick' }, 49)).toEqual([])
    expect(dispatchedIds(s.handle({ type: 'tick' }, 50))).toEqual(['a', 'b'])
  })

  it('batches per function only', () => {
    const s = makeScheduler({
      capacity: 10,
      batchSize: 2,
      batchWaitMs: 50,
      functions: [{ name: 'x' }, { name: 'y' }],
    })
    expect(submit(s, 0, 'x1', { fn: 'x' })).toEqual([])
    expect(submit(s, 0, 'y1', { fn: 'y' })).toEqual([])
    const d = onlyDispatch(submit(s, 1, 'x2', { fn: 'x' }))
    expect(d.invocations.map((i) => i.id)).toEqual(['x1', 'x2'])
  })

  it('frees the host when the whole batch has finished, capacity as each one does', () => {
    const s = makeScheduler({ capacity: 10, batchSize: 2, batchWaitMs: 50 })
    submit(s, 0, 'a')
    const d = onlyDispatch(submit(s, 0, 'b'))
    complete(s, 1, 'a')
    expect(s.inflight).toBe(1)
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 1 }])
    complete(s, 2, 'b')
    expect(s.workers()[0]?.hosts).toEqual([{ id: d.hostId, fn: 'f@1', busy: 0 }])
  })

  it('never batches beyond the free capacity', () => {
    const s = makeScheduler({ capacity: 2, batchSize: 4, batchWaitMs: 5 })
    for (const id of ['a', 'b', 'c']) submit(s, 0, id)
    expect(dispatchedIds(s.handle({ type: 'tick' }, 5))).toEqual(['a', 'b'])
  })
})
