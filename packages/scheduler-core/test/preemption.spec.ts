import { describe, expect, it } from 'vitest'
import {
  complete,
  dispatchedIds,
  effectsOf,
  makeScheduler,
  onlyDispatch,
  submit,
} from './helpers.js'

describe('preemption', () => {
  it('a high-priority invocation with no capacity evicts the most recent low one', () => {
    const s = makeScheduler({ capacity: 2, workers: { w1: 4096 } })
    submit(s, 0, 'low-old', { priority: 1 })
    const recent = onlyDispatch(submit(s, 1, 'low-new', { priority: 1 }))
    const effects = submit(s, 2, 'high', { priority: 0 })
    expect(effectsOf(effects, 'cancel')).toEqual([
      {
        type: 'cancel',
        dispatchId: recent.dispatchId,
        worker: 'w1',
        hostId: recent.hostId,
        invocationIds: ['low-new'],
        reason: 'preempted',
      },
    ])
    expect(dispatchedIds(effects)).toEqual(['high'])
    expect(s.invocationState('low-new')).toBe('queued')
    expect(s.inflight).toBe(2)
  })

  it('the evicted one resumes first when capacity frees, ahead of older low ones', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 4096 } })
    submit(s, 0, 'low-running', { priority: 1 })
    submit(s, 1, 'low-waiting', { priority: 1 })
    submit(s, 2, 'high', { priority: 0 })
    const resumed = onlyDispatch(complete(s, 3, 'high'))
    expect(resumed.invocations).toEqual([{ id: 'low-running', attempt: 2, input: undefined }])
    // A late answer from the cancelled attempt changes nothing.
    const before = s.snapshot()
    expect(effectsOf(complete(s, 4, 'low-running', 1), 'rejected')[0]?.reason).toBe('stale-attempt')
    expect(s.snapshot()).toEqual(before)
    expect(effectsOf(complete(s, 5, 'low-running', 2, 'done'), 'result')).toEqual([
      {
        type: 'result',
        invocationId: 'low-running',
        status: 'succeeded',
        output: 'done',
        attempts: 2,
        preemptions: 1,
      },
    ])
  })

  it('counts the attempts and preemptions of an evicted one, while queued, running and done', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 4096 } })
    submit(s, 0, 'low', { priority: 1 })
    expect(s.invocationProgress('low')).toEqual({ state: 'running', attempts: 1, preemptions: 0 })
    submit(s, 1, 'high', { priority: 0 })
    expect(s.invocationProgress('low')).toEqual({ state: 'queued', attempts: 1, preemptions: 1 })
    expect(s.invocationProgress('high')).toEqual({ state: 'running', attempts: 1, preemptions: 0 })
    complete(s, 2, 'high')
    expect(s.invocationProgress('low')).toEqual({ state: 'running', attempts: 2, preemptions: 1 })
    // Evicted again by a second high one: each eviction counts.
    submit(s, 3, 'high-2', { priority: 0 })
    complete(s, 4, 'high-2')
    const [result] = effectsOf(complete(s, 5, 'low', 3), 'result')
    expect(result).toMatchObject({ status: 'succeeded', attempts: 3, preemptions: 2 })
    expect(s.invocationProgress('low')).toBeUndefined()
  })

  it('high never evicts high', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 4096 } })
    submit(s, 0, 'h1', { priority: 0 })
    const effects = submit(s, 1, 'h2', { priority: 0 })
    expect(effects).toEqual([])
    expect(s.invocationState('h1')).toBe('running')
    expect(s.invocationState('h2')).toBe('queued')
  })

  it('low never evicts low, and non-preemptible low ones are left alone', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 4096 } })
    submit(s, 0, 'keep', { priority: 1, preemptible: false })
    expect(submit(s, 1, 'low', { priority: 1 })).toEqual([])
    expect(submit(s, 2, 'high', { priority: 0 })).toEqual([])
    expect(s.invocationState('keep')).toBe('running')
  })

  it('does not preempt while draining a shrunk capacity', () => {
    const s = makeScheduler({ capacity: 2, workers: { w1: 4096 } })
    submit(s, 0, 'l1', { priority: 1 })
    submit(s, 1, 'l2', { priority: 1 })
    s.handle({ type: 'capacity-changed', capacity: 0 }, 2)
    expect(submit(s, 3, 'high', { priority: 0 })).toEqual([])
    expect(s.inflight).toBe(2)
  })
})
