/**
 * DispatchRunner: the one path every dispatch takes (builtin, local provider, remote
 * worker). A fake dispatcher hands out leases the test settles by hand.
 */
import type { SchedulerEvent } from '@chorus/scheduler-core'
import { describe, expect, it } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import { silentLogger } from '../../src/observability/logger.js'
import { DispatchRunner, type DispatchAnswers } from '../../src/scheduling/dispatch-runner.js'
import type { DispatchEffect, Dispatcher, ProviderLease } from '../../src/scheduling/provider.js'
import { deferred, type Deferred } from '../deferred.js'
import { dispatchOf } from './dispatch-of.js'
import { waitFor } from '../wait-for.js'

/** A dispatch of the invocations' second attempt: answers must echo it. */
const secondAttempt = (inputs: readonly unknown[]) => dispatchOf(inputs, { attempt: 2 })

interface Run {
  readonly index: number
  readonly id: string
  readonly input: unknown
  readonly signal: AbortSignal
  readonly result: Deferred<unknown>
}

/** A dispatcher whose lease the test gives, and whose runs it settles. */
function fakeDispatcher() {
  const lease = deferred<ProviderLease>()
  const runs: Run[] = []
  const calls: { dispatch: DispatchEffect; signals: readonly AbortSignal[] }[] = []
  const dispatcher: Dispatcher = (dispatch, signals) => {
    calls.push({ dispatch, signals })
    return lease.promise
  }
  const ready: ProviderLease = {
    type: 'ready',
    run: (index, id, input, signal) => {
      const result = deferred<unknown>()
      runs.push({ index, id, input, signal, result })
      return result.promise
    },
  }
  return { dispatcher, lease, ready, runs, calls }
}

function recorder() {
  const answered: SchedulerEvent[] = []
  const refused: string[] = []
  const to: DispatchAnswers = {
    answered: (event) => answered.push(event),
    refused: (message) => refused.push(message),
  }
  return { to, answered, refused }
}

function runner() {
  const executed: string[] = []
  const r = new DispatchRunner({ log: silentLogger(), onExecute: (fn) => executed.push(fn) })
  return { runner: r, executed }
}

describe('DispatchRunner', () => {
  it('runs each invocation on its slot and answers each as its outcome comes', async () => {
    const { runner: r, executed } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b']), fake.dispatcher, rec.to, true)
    expect(r.isRunning('i1') && r.isRunning('i2')).toBe(true)
    fake.lease.resolve(fake.ready)
    await waitFor('both runs to start', () => fake.runs.length === 2)
    expect(fake.runs.map((run) => [run.index, run.id, run.input])).toEqual([
      [0, 'i1', 'a'],
      [1, 'i2', 'b'],
    ])
    expect(executed).toEqual(['resize', 'resize'])

    fake.runs[1]?.result.resolve({ out: 'B' })
    await waitFor('the second answer', () => rec.answered.length === 1)
    expect(rec.answered).toEqual([
      { type: 'invocation-completed', invocationId: 'i2', attempt: 2, output: { out: 'B' } },
    ])
    expect(r.isRunning('i2')).toBe(false)
    expect(r.isRunning('i1')).toBe(true)

    fake.runs[0]?.result.reject(new Error('it crashed'))
    await waitFor('the first answer', () => rec.answered.length === 2)
    expect(rec.answered[1]).toEqual({
      type: 'invocation-failed',
      invocationId: 'i1',
      attempt: 2,
      error: 'it crashed',
    })
    expect(r.isRunning('i1')).toBe(false)
    expect(rec.refused).toEqual([])
  })

  it('refuses a busy dispatch: nothing runs, nothing is answered, nothing stays running', async () => {
    const { runner: r, executed } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b']), fake.dispatcher, rec.to, true)
    fake.lease.resolve({ type: 'busy', message: 'no memory left' })
    await waitFor('the refusal', () => rec.refused.length === 1)
    expect(rec.refused).toEqual(['no memory left'])
    expect(rec.answered).toEqual([])
    expect(executed).toEqual([])
    expect(r.isRunning('i1') || r.isRunning('i2')).toBe(false)
  })

  it('fails every invocation with the message when the dispatch can never run', async () => {
    const { runner: r, executed } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b']), fake.dispatcher, rec.to, true)
    fake.lease.reject(new Error('the code does not load'))
    await waitFor('both failures', () => rec.answered.length === 2)
    expect(rec.answered).toEqual([
      {
        type: 'invocation-failed',
        invocationId: 'i1',
        attempt: 2,
        error: 'the code does not load',
      },
      {
        type: 'invocation-failed',
        invocationId: 'i2',
        attempt: 2,
        error: 'the code does not load',
      },
    ])
    expect(executed).toEqual([])
    expect(rec.refused).toEqual([])
  })

  it('fails as peer-unreachable, not as the function, when the worker could not be reached', async () => {
    const { runner: r } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a']), fake.dispatcher, rec.to, false)
    fake.lease.reject(new ChorusError('peer-unreachable', 'worker w did not answer'))
    await waitFor('the failure', () => rec.answered.length === 1)
    expect(rec.answered).toEqual([
      {
        type: 'invocation-failed',
        invocationId: 'i1',
        attempt: 2,
        error: 'worker w did not answer',
        code: 'peer-unreachable',
      },
    ])
  })

  it('says a run that ended in a network fault or a deadline was one, and nothing else', async () => {
    const { runner: r } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b', 'c']), fake.dispatcher, rec.to, true)
    fake.lease.resolve(fake.ready)
    await waitFor('three runs', () => fake.runs.length === 3)
    fake.runs[0]?.result.reject(new ChorusError('timeout', 'past 10 ms'))
    fake.runs[1]?.result.reject(new ChorusError('peer-unreachable', 'gone'))
    fake.runs[2]?.result.reject(new ChorusError('bad-request', 'the function said no'))
    await waitFor('three answers', () => rec.answered.length === 3)
    const codes = Object.fromEntries(
      rec.answered.map((e) => [
        e.type === 'invocation-failed' ? e.invocationId : '',
        e.type === 'invocation-failed' ? (e.code ?? 'none') : '',
      ]),
    )
    expect(codes).toEqual({ i1: 'timeout', i2: 'peer-unreachable', i3: 'none' })
  })

  it('counts no execution here for a dispatch that runs on another worker', async () => {
    const { runner: r, executed } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a']), fake.dispatcher, rec.to, false)
    fake.lease.resolve(fake.ready)
    await waitFor('the run to start', () => fake.runs.length === 1)
    fake.runs[0]?.result.resolve(1)
    await waitFor('the answer', () => rec.answered.length === 1)
    expect(executed).toEqual([])
  })

  it('gives the dispatcher one signal per invocation, which a cancel aborts before the run starts', async () => {
    const { runner: r } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b']), fake.dispatcher, rec.to, true)
    const signals = fake.calls[0]?.signals ?? []
    expect(signals).toHaveLength(2)
    r.cancel(['i2'])
    expect(signals.map((s) => s.aborted)).toEqual([false, true])
    fake.lease.resolve(fake.ready)
    await waitFor('both runs to start', () => fake.runs.length === 2)
    expect(fake.runs.map((run) => run.signal.aborted)).toEqual([false, true])
  })

  it('aborts a running invocation on cancel, and everything on stop', async () => {
    const { runner: r } = runner()
    const fake = fakeDispatcher()
    const rec = recorder()
    r.run(secondAttempt(['a', 'b', 'c']), fake.dispatcher, rec.to, true)
    fake.lease.resolve(fake.ready)
    await waitFor('the runs to start', () => fake.runs.length === 3)
    r.cancel(['i1', 'unknown'])
    expect(fake.runs.map((run) => run.signal.aborted)).toEqual([true, false, false])
    r.stop()
    expect(fake.runs.map((run) => run.signal.aborted)).toEqual([true, true, true])
    expect(r.isRunning('i2')).toBe(false)
    // A late answer still reaches the scheduler, which tells a stale one apart itself.
    fake.runs[2]?.result.resolve('late')
    await waitFor('the late answer', () => rec.answered.length === 1)
    expect(rec.answered[0]).toMatchObject({ type: 'invocation-completed', invocationId: 'i3' })
  })
})
