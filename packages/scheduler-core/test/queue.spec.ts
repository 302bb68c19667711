import { describe, expect, it } from 'vitest'
import { complete, dispatchedIds, effectsOf, makeScheduler, submit } from './helpers.js'

describe('the queue', () => {
  it('runs high priority before low, FIFO within a priority', () => {
    const s = makeScheduler({ capacity: 0 })
    submit(s, 1, 'low-1', { priority: 1 })
    submit(s, 2, 'high-1', { priority: 0 })
    submit(s, 3, 'low-2', { priority: 1 })
    submit(s, 4, 'high-2', { priority: 0 })
    expect(s.summary(5).pending).toEqual({ high: 2, low: 2 })
    const effects = s.handle({ type: 'capacity-changed', capacity: 4 }, 5)
    expect(dispatchedIds(effects)).toEqual(['high-1', 'high-2', 'low-1', 'low-2'])
  })

  it('keeps FIFO across functions of the same priority', () => {
    const s = makeScheduler({
      capacity: 0,
      functions: [
        { name: 'a', memoryMb: 64 },
        { name: 'b', memoryMb: 64 },
      ],
    })
    const ids = ['1', '2', '3', '4', '5', '6']
    ids.forEach((id, i) => submit(s, i, id, { fn: i % 3 === 0 ? 'a' : 'b' }))
    expect(dispatchedIds(s.handle({ type: 'capacity-changed', capacity: 6 }, 10))).toEqual(ids)
  })

  it('fails an invocation that waited longer than its queue timeout, and only that one', () => {
    const s = makeScheduler({ capacity: 0, queueTimeoutMs: 1000 })
    submit(s, 0, 'short', { queueTimeoutMs: 50 })
    submit(s, 0, 'default')
    expect(s.nextDeadline()).toBe(50)
    expect(s.handle({ type: 'tick' }, 49)).toEqual([])
    const effects = s.handle({ type: 'tick' }, 50)
    expect(effects).toEqual([
      {
        type: 'result',
        invocationId: 'short',
        status: 'failed',
        error: { code: 'queue-timeout', message: 'not dispatched within 50 ms' },
        attempts: 0,
        preemptions: 0,
      },
    ])
    expect(s.invocationState('short')).toBeUndefined()
    expect(s.invocationState('default')).toBe('queued')
    expect(s.nextDeadline()).toBe(1000)
    expect(dispatchedIds(s.handle({ type: 'capacity-changed', capacity: 1 }, 60))).toEqual([
      'default',
    ])
  })

  it('drops a dispatched invocation from the timeout watch', () => {
    const s = makeScheduler({ capacity: 1, queueTimeoutMs: 100 })
    submit(s, 0, 'a')
    const effects = s.handle({ type: 'tick' }, 500)
    expect(effectsOf(effects, 'result')).toEqual([])
    expect(s.invocationState('a')).toBe('running')
  })

  it('keeps priority and FIFO order with 100,000 queued', () => {
    const s = makeScheduler({ capacity: 0, functions: [{ name: 'f', memoryMb: 1 }] })
    for (let i = 0; i < 100_000; i++) submit(s, 0, `q${i}`, { priority: (i % 2) as 0 | 1 })
    expect(s.queued).toBe(100_000)
    s.handle({ type: 'capacity-changed', capacity: 1 }, 1)
    // Completing the running one dispatches exactly the next in order, every time.
    let running = 'q0'
    for (let i = 1; i < 1000; i++) {
      const next = dispatchedIds(complete(s, 2 + i, running))
      expect(next).toHaveLength(1)
      running = next[0] as string
    }
    // All 50,000 high ones (even ids) come first, in order.
    expect(running).toBe('q1998')
  })
})

describe('withdrawing', () => {
  it('takes a queued invocation out without a result, keeping the others in order', () => {
    const s = makeScheduler({ capacity: 0 })
    for (const id of ['a', 'b', 'c']) submit(s, 0, id)
    expect(s.handle({ type: 'invocation-withdrawn', invocationId: 'b' }, 1)).toEqual([])
    expect(s.invocationState('b')).toBeUndefined()
    expect(s.queued).toBe(2)
    expect(dispatchedIds(s.handle({ type: 'capacity-changed', capacity: 3 }, 2))).toEqual([
      'a',
      'c',
    ])
    // A withdrawn id may come back as a new submission.
    expect(dispatchedIds(submit(s, 3, 'b'))).toEqual(['b'])
  })

  it('refuses running and unknown invocations', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'running')
    const before = s.snapshot()
    const running = s.handle({ type: 'invocation-withdrawn', invocationId: 'running' }, 1)
    expect(effectsOf(running, 'rejected')[0]?.reason).toBe('not-queued')
    const unknown = s.handle({ type: 'invocation-withdrawn', invocationId: 'ghost' }, 1)
    expect(effectsOf(unknown, 'rejected')[0]?.reason).toBe('unknown-invocation')
    expect(s.snapshot()).toEqual(before)
  })
})
