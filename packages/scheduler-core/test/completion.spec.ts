import { describe, expect, it } from 'vitest'
import type { OwnerScheduler } from '../src/index.js'
import { complete, effectsOf, makeScheduler, onlyDispatch, submit } from './helpers.js'

function fail(s: OwnerScheduler, now: number, id: string, attempt: number, error = 'boom') {
  return s.handle({ type: 'invocation-failed', invocationId: id, attempt, error }, now)
}

describe('completion and failure', () => {
  it('a completion yields the result with its output and frees the slot', () => {
    const s = makeScheduler({ capacity: 1 })
    submit(s, 0, 'a', { input: { x: 1 } })
    submit(s, 0, 'b')
    const effects = complete(s, 5, 'a', 1, { y: 2 })
    expect(effects[0]).toEqual({
      type: 'result',
      invocationId: 'a',
      status: 'succeeded',
      output: { y: 2 },
      attempts: 1,
      preemptions: 0,
    })
    expect(onlyDispatch(effects).invocations[0]?.id).toBe('b')
  })

  it('carries the input to the dispatch', () => {
    const s = makeScheduler()
    expect(onlyDispatch(submit(s, 0, 'a', { input: [1, 'two'] })).invocations).toEqual([
      { id: 'a', attempt: 1, input: [1, 'two'] },
    ])
  })

  it('retries a failure up to the function limit, then fails for good', () => {
    const s = makeScheduler({ functions: [{ name: 'f', maxRetries: 2 }] })
    submit(s, 0, 'a')
    expect(onlyDispatch(fail(s, 1, 'a', 1)).invocations[0]?.attempt).toBe(2)
    expect(onlyDispatch(fail(s, 2, 'a', 2)).invocations[0]?.attempt).toBe(3)
    expect(fail(s, 3, 'a', 3)).toEqual([
      {
        type: 'result',
        invocationId: 'a',
        status: 'failed',
        error: { code: 'function-error', message: 'boom' },
        attempts: 3,
        preemptions: 0,
      },
    ])
    expect(s.inflight).toBe(0)
    expect(s.invocationState('a')).toBeUndefined()
  })

  it('reports a network fault or a deadline as such, never as the function failing', () => {
    for (const code of ['peer-unreachable', 'timeout'] as const) {
      const s = makeScheduler()
      submit(s, 0, 'a')
      const effects = s.handle(
        { type: 'invocation-failed', invocationId: 'a', attempt: 1, error: 'no answer', code },
        1,
      )
      expect(effectsOf(effects, 'result')[0]).toMatchObject({
        status: 'failed',
        error: { code, message: 'no answer' },
      })
    }
  })

  it('does not retry by default', () => {
    const s = makeScheduler()
    submit(s, 0, 'a')
    expect(effectsOf(fail(s, 1, 'a', 1), 'result')[0]?.status).toBe('failed')
  })

  it('cancels and fails an invocation that runs past its timeout', () => {
    const s = makeScheduler({ functions: [{ name: 'f', timeoutMs: 1000 }] })
    const d = onlyDispatch(submit(s, 0, 'a'))
    expect(s.nextDeadline()).toBe(1000)
    expect(s.handle({ type: 'tick' }, 999)).toEqual([])
    expect(s.handle({ type: 'tick' }, 1000)).toEqual([
      {
        type: 'cancel',
        dispatchId: d.dispatchId,
        worker: 'w1',
        hostId: d.hostId,
        invocationIds: ['a'],
        reason: 'timeout',
      },
      {
        type: 'result',
        invocationId: 'a',
        status: 'failed',
        error: { code: 'timeout', message: 'timed out after 1000 ms' },
        attempts: 1,
        preemptions: 0,
      },
    ])
    // The late completion changes nothing.
    const before = s.snapshot()
    expect(effectsOf(complete(s, 1001, 'a'), 'rejected')[0]?.reason).toBe('unknown-invocation')
    expect(s.snapshot()).toEqual(before)
  })

  it('an answer that arrives after its timeout fell due is refused; the timeout stands', () => {
    const s = makeScheduler({ functions: [{ name: 'f', timeoutMs: 1000 }] })
    submit(s, 0, 'a')
    const effects = complete(s, 1500, 'a', 1, 'late')
    expect(effects.map((e) => e.type)).toEqual(['cancel', 'result', 'rejected'])
    expect(effectsOf(effects, 'result')[0]?.error?.code).toBe('timeout')
    expect(s.inflight).toBe(0)
  })

  it('a forced release frees the slot and fails (or retries) the invocation', () => {
    const s = makeScheduler({ capacity: 1, functions: [{ name: 'f', maxRetries: 1 }] })
    submit(s, 0, 'a')
    const retried = s.handle({ type: 'invocation-released', invocationId: 'a', attempt: 1 }, 5)
    expect(onlyDispatch(retried).invocations[0]).toMatchObject({ id: 'a', attempt: 2 })
    const final = s.handle({ type: 'invocation-released', invocationId: 'a', attempt: 2 }, 6)
    expect(effectsOf(final, 'result')[0]?.error?.code).toBe('released')
    expect(effectsOf(complete(s, 7, 'a', 2), 'rejected')[0]?.reason).toBe('unknown-invocation')
  })

  it('a lost host fails what it ran; the others keep running', () => {
    const s = makeScheduler({
      capacity: 5,
      functions: [{ name: 'f', memoryMb: 128, concurrency: 2 }],
    })
    const a = onlyDispatch(submit(s, 0, 'a'))
    const b = onlyDispatch(submit(s, 0, 'b'))
    const c = onlyDispatch(submit(s, 0, 'c'))
    expect(b.hostId).toBe(a.hostId)
    expect(c.hostId).not.toBe(a.hostId)
    const effects = s.handle({ type: 'host-lost', hostId: a.hostId }, 5)
    expect(effectsOf(effects, 'result').map((r) => [r.invocationId, r.error?.code])).toEqual([
      ['a', 'host-lost'],
      ['b', 'host-lost'],
    ])
    expect(s.invocationState('c')).toBe('running')
    expect(s.inflight).toBe(1)
  })

  it('a worker going offline fails its invocations, which retry elsewhere', () => {
    const s = makeScheduler({
      placement: 'openwhisk',
      workers: { w1: 1024, w2: 1024 },
      functions: [{ name: 'f', maxRetries: 1 }],
    })
    const first = onlyDispatch(submit(s, 0, 'a'))
    const effects = s.handle(
      { type: 'worker-health', workerId: first.worker, health: 'offline' },
      1,
    )
    const again = onlyDispatch(effects)
    expect(again.worker).not.toBe(first.worker)
    expect(again.invocations[0]).toMatchObject({ id: 'a', attempt: 2 })
    expect(s.workers().find((w) => w.id === first.worker)?.hosts).toEqual([])
  })
})
