import { describe, expect, it } from 'vitest'
import { invokes, newRun, simulate, type Answer, type Invoke } from './helpers.js'

describe('retries', () => {
  it('re-invoke a failed task as a new task, up to `retries` times', () => {
    const run = newRun({ function: 'f', retries: 2 })
    expect(run.start('x', 0)).toEqual([
      { type: 'invoke', taskId: 'r/t1', stepPath: '/definition', fn: 'f', input: 'x', attempt: 1 },
    ])
    expect(
      run.handle({ type: 'task-failed', taskId: 'r/t1', error: 'e1', peerId: 'p1' }, 10),
    ).toEqual([
      { type: 'invoke', taskId: 'r/t2', stepPath: '/definition', fn: 'f', input: 'x', attempt: 2 },
    ])
    expect(
      run.handle({ type: 'task-failed', taskId: 'r/t2', error: 'e2', peerId: 'p2' }, 20),
    ).toEqual([
      { type: 'invoke', taskId: 'r/t3', stepPath: '/definition', fn: 'f', input: 'x', attempt: 3 },
    ])
    expect(
      run.handle({ type: 'task-completed', taskId: 'r/t3', output: 'ok', peerId: 'p3' }, 30),
    ).toEqual([{ type: 'done', status: 'succeeded', output: 'ok' }])
    expect(run.trace().root).toEqual({
      path: '/definition',
      kind: 'task',
      fn: 'f',
      status: 'succeeded',
      attempts: 3,
      startedAt: 0,
      endedAt: 30,
      error: { code: 'task-failed', message: 'e2', step: '/definition' },
      tasks: [
        {
          taskId: 'r/t1',
          attempt: 1,
          status: 'failed',
          invokedAt: 0,
          endedAt: 10,
          peerId: 'p1',
          error: 'e1',
        },
        {
          taskId: 'r/t2',
          attempt: 2,
          status: 'failed',
          invokedAt: 10,
          endedAt: 20,
          peerId: 'p2',
          error: 'e2',
        },
        {
          taskId: 'r/t3',
          attempt: 3,
          status: 'succeeded',
          invokedAt: 20,
          endedAt: 30,
          peerId: 'p3',
        },
      ],
    })
  })

  it('fail the step when they run out', () => {
    const run = newRun({ sequence: [{ function: 'f', retries: 1 }, { function: 'g' }] })
    const sim = simulate(run, 0, (call) => ({ error: `fail ${call.attempt}` }))
    expect(sim.done).toEqual({
      type: 'done',
      status: 'failed',
      error: { code: 'task-failed', message: 'fail 2', step: '/definition/sequence/0' },
    })
    expect(invokes(sim.effects.map((e) => e.effect))).toHaveLength(2)
  })

  it('of a composite re-run its whole sub-tree on the same input', () => {
    const run = newRun({ sequence: [{ function: 'f' }, { function: 'g' }], retries: 1 })
    let gCalls = 0
    const sim = simulate(run, 'in', (call) =>
      call.fn === 'g' && ++gCalls === 1
        ? { error: 'flaky' }
        : { ok: `${call.fn}(${String(call.input)})` },
    )
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: 'g(f(in))' })
    expect(
      invokes(sim.effects.map((e) => e.effect)).map((i) => [
        i.taskId,
        i.stepPath,
        i.input,
        i.attempt,
      ]),
    ).toEqual([
      ['r/t1', '/definition/sequence/0', 'in', 1],
      ['r/t2', '/definition/sequence/1', 'f(in)', 1],
      ['r/t3', '/definition/sequence/0', 'in', 1],
      ['r/t4', '/definition/sequence/1', 'f(in)', 1],
    ])
    // The trace shows the latest attempt of the sub-tree, and the composite's last error.
    expect(run.trace().root).toMatchObject({
      attempts: 2,
      status: 'succeeded',
      error: { code: 'task-failed', message: 'flaky', step: '/definition/sequence/1' },
      children: [{ tasks: [{ taskId: 'r/t3' }] }, { tasks: [{ taskId: 'r/t4' }] }],
    })
  })

  it('are not spent on a failure the input decides, but an enclosing step retries it', () => {
    const choice = { choice: [{ when: '$.ok', then: { function: 'g' } }], retries: 5 }
    const run = newRun({ sequence: [{ function: 'f' }, choice], retries: 1 })
    let fCalls = 0
    const sim = simulate(run, null, (call) =>
      call.fn === 'f' ? { ok: { ok: ++fCalls === 2 } } : { ok: 'done' },
    )
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: 'done' })
    expect(fCalls).toBe(2)
    expect(run.trace().root).toMatchObject({
      attempts: 2,
      error: { code: 'no-match', step: '/definition/sequence/1' },
      children: [{ attempts: 1 }, { attempts: 1, status: 'succeeded', branch: 0 }],
    })
  })
})

describe('timeouts', () => {
  it('cancel a task that runs too long, count as a failure, and may retry', () => {
    const run = newRun({ function: 'f', timeoutMs: 100, retries: 1 })
    run.start('x', 0)
    expect(run.nextDeadline()).toBe(100)
    expect(run.handle({ type: 'tick' }, 99)).toEqual([])
    expect(run.handle({ type: 'tick' }, 100)).toEqual([
      { type: 'cancel', taskId: 'r/t1', reason: 'timeout' },
      { type: 'invoke', taskId: 'r/t2', stepPath: '/definition', fn: 'f', input: 'x', attempt: 2 },
    ])
    expect(run.nextDeadline()).toBe(200)
    // The first attempt's late answer is stale.
    expect(run.handle({ type: 'task-completed', taskId: 'r/t1', output: 1 }, 150)).toMatchObject([
      { type: 'rejected', reason: 'stale-task' },
    ])
    expect(run.handle({ type: 'tick' }, 250)).toEqual([
      { type: 'cancel', taskId: 'r/t2', reason: 'timeout' },
      {
        type: 'done',
        status: 'failed',
        error: { code: 'timeout', message: 'timed out after 100 ms', step: '/definition' },
      },
    ])
    expect(run.nextDeadline()).toBeUndefined()
    expect(run.trace().root.tasks).toEqual([
      { taskId: 'r/t1', attempt: 1, status: 'timed-out', invokedAt: 0, endedAt: 100 },
      { taskId: 'r/t2', attempt: 2, status: 'timed-out', invokedAt: 100, endedAt: 250 },
    ])
  })

  it('fire before an answer that arrives at or after the deadline', () => {
    const run = newRun({ function: 'f', timeoutMs: 100 })
    run.start('x', 0)
    expect(run.handle({ type: 'task-completed', taskId: 'r/t1', output: 1 }, 100)).toEqual([
      { type: 'cancel', taskId: 'r/t1', reason: 'timeout' },
      {
        type: 'rejected',
        event: 'task-completed',
        reason: 'stale-task',
        message: 'task r/t1 is no longer running: it settled, timed out or was cancelled',
      },
      {
        type: 'done',
        status: 'failed',
        error: { code: 'timeout', message: 'timed out after 100 ms', step: '/definition' },
      },
    ])
  })

  it('of a composite bound its whole sub-tree and cancel what runs in it', () => {
    const run = newRun({
      sequence: [
        { sequence: [{ function: 'f' }, { function: 'g' }], timeoutMs: 100 },
        { function: 'h' },
      ],
    })
    const sim = simulate(run, 0, () => ({ ok: 1, after: 60 }))
    expect(sim.done).toEqual({
      type: 'done',
      status: 'failed',
      error: { code: 'timeout', message: 'timed out after 100 ms', step: '/definition/sequence/0' },
    })
    expect(
      sim.effects.map(({ effect, now }) => [
        now,
        effect.type,
        'taskId' in effect ? effect.taskId : '',
      ]),
    ).toEqual([
      [0, 'invoke', 'r/t1'],
      [60, 'invoke', 'r/t2'],
      [100, 'cancel', 'r/t2'],
      [100, 'done', ''],
    ])
    expect(run.trace().root.children?.[0]?.children?.[1]).toMatchObject({
      status: 'failed',
      error: { code: 'cancelled', message: 'cancelled: /definition/sequence/0 timed out' },
      tasks: [{ taskId: 'r/t2', status: 'cancelled' }],
    })
  })

  it('of a composite with retries restart it from its first step', () => {
    const run = newRun({
      sequence: [{ function: 'f' }, { function: 'g' }],
      timeoutMs: 100,
      retries: 1,
    })
    let calls = 0
    // The first attempt is slow; the second is quick.
    const sim = simulate(run, 0, (call: Invoke): Answer => ({
      ok: call.fn,
      after: ++calls <= 2 ? 60 : 10,
    }))
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: 'g' })
    expect(
      sim.effects.map(({ effect, now }) => [
        now,
        effect.type,
        'taskId' in effect ? effect.taskId : '',
      ]),
    ).toEqual([
      [0, 'invoke', 'r/t1'],
      [60, 'invoke', 'r/t2'],
      [100, 'cancel', 'r/t2'],
      [100, 'invoke', 'r/t3'],
      [110, 'invoke', 'r/t4'],
      [120, 'done', ''],
    ])
  })

  it('of nested steps falling due together fire outermost first', () => {
    const run = newRun({ sequence: [{ function: 'f', timeoutMs: 50, retries: 3 }], timeoutMs: 50 })
    run.start(0, 0)
    // Both deadlines are at 50: the sequence's wins, so the task is not retried first.
    expect(run.handle({ type: 'tick' }, 50)).toEqual([
      { type: 'cancel', taskId: 'r/t1', reason: 'timeout' },
      {
        type: 'done',
        status: 'failed',
        error: { code: 'timeout', message: 'timed out after 50 ms', step: '/definition' },
      },
    ])
  })

  it('of a task start when it is invoked, not while it waits for a slot', () => {
    const run = newRun(
      { parallel: [{ function: 'f' }, { function: 'g', timeoutMs: 100 }] },
      { maxInflightTasks: 1 },
    )
    expect(invokes(run.start(0, 0)).map((i) => i.fn)).toEqual(['f'])
    expect(run.nextDeadline()).toBeUndefined()
    expect(
      invokes(run.handle({ type: 'task-completed', taskId: 'r/t1' }, 500)).map((i) => i.fn),
    ).toEqual(['g'])
    expect(run.nextDeadline()).toBe(600)
  })

  it('are driven by nextDeadline on a virtual clock', () => {
    // Each item times out once and then succeeds: the clock only ever jumps to a deadline.
    const run = newRun({ map: { function: 'f', timeoutMs: 30, retries: 1 }, maxConcurrency: 2 })
    const sim = simulate(run, [1, 2, 3], (call) =>
      call.attempt === 1 ? 'hang' : { ok: call.input, after: 5 },
    )
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: [1, 2, 3] })
    expect(sim.events.map((e) => [e.now, e.event.type])).toEqual([
      [30, 'tick'],
      [35, 'task-completed'],
      [35, 'task-completed'],
      [65, 'tick'],
      [70, 'task-completed'],
    ])
  })
})
