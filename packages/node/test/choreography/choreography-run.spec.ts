import { describe, expect, it } from 'vitest'
import {
  ChoreographyRun,
  InvalidRunOptionsError,
  validateChoreography,
} from '../../src/choreography/index.js'
import { compile, echo, invokes, newRun, simulate, type Answer, type Invoke } from './helpers.js'

describe('ChoreographyRun', () => {
  it('runs the example of index.ts', () => {
    const result = validateChoreography(
      { name: 'thumbs', definition: { map: { function: 'resize' }, items: '$.images' } },
      { functionExists: (fn) => fn === 'resize' },
    )
    if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('\n'))
    const run = new ChoreographyRun(result.plan, { id: 'inv-1' })
    expect(run.start({ images: ['a.png', 'b.png'] }, 0)).toEqual([
      {
        type: 'invoke',
        taskId: 'inv-1/t1',
        stepPath: '/definition/map[0]',
        fn: 'resize',
        input: 'a.png',
        attempt: 1,
      },
      {
        type: 'invoke',
        taskId: 'inv-1/t2',
        stepPath: '/definition/map[1]',
        fn: 'resize',
        input: 'b.png',
        attempt: 1,
      },
    ])
    expect(
      run.handle(
        { type: 'task-completed', taskId: 'inv-1/t1', output: 'a.webp', peerId: 'p1' },
        30,
      ),
    ).toEqual([])
    expect(
      run.handle(
        { type: 'task-completed', taskId: 'inv-1/t2', output: 'b.webp', peerId: 'p2' },
        35,
      ),
    ).toEqual([{ type: 'done', status: 'succeeded', output: ['a.webp', 'b.webp'] }])
  })

  describe('a task', () => {
    it('invokes its function with the input and finishes with its output', () => {
      const run = newRun({ function: 'f' })
      expect(run.start({ x: 1 }, 100)).toEqual([
        {
          type: 'invoke',
          taskId: 'r/t1',
          stepPath: '/definition',
          fn: 'f',
          input: { x: 1 },
          attempt: 1,
        },
      ])
      expect(run.nextDeadline()).toBeUndefined()
      expect(
        run.handle({ type: 'task-completed', taskId: 'r/t1', output: 42, peerId: 'p9' }, 130),
      ).toEqual([{ type: 'done', status: 'succeeded', output: 42 }])
      expect(run.outcome).toEqual({ status: 'succeeded', output: 42 })
      expect(run.trace()).toEqual({
        id: 'r',
        choreography: 'test',
        status: 'succeeded',
        startedAt: 100,
        endedAt: 130,
        root: {
          path: '/definition',
          kind: 'task',
          fn: 'f',
          status: 'succeeded',
          attempts: 1,
          startedAt: 100,
          endedAt: 130,
          tasks: [
            {
              taskId: 'r/t1',
              attempt: 1,
              status: 'succeeded',
              invokedAt: 100,
              endedAt: 130,
              peerId: 'p9',
            },
          ],
        },
      })
    })

    it('takes a missing input or output as null', () => {
      const run = newRun({ function: 'f' })
      expect(invokes(run.start(undefined, 0))[0]?.input).toBeNull()
      expect(run.handle({ type: 'task-completed', taskId: 'r/t1' }, 1)).toEqual([
        { type: 'done', status: 'succeeded', output: null },
      ])
    })

    it('fails the run when it fails', () => {
      const run = newRun({ function: 'f' })
      run.start(1, 0)
      expect(run.handle({ type: 'task-failed', taskId: 'r/t1', error: 'boom' }, 5)).toEqual([
        {
          type: 'done',
          status: 'failed',
          error: { code: 'task-failed', message: 'boom', step: '/definition' },
        },
      ])
      expect(run.trace()).toMatchObject({
        status: 'failed',
        error: { code: 'task-failed', message: 'boom', step: '/definition' },
        root: { status: 'failed', tasks: [{ status: 'failed', error: 'boom' }] },
      })
    })
  })

  it("runs a sequence, each step's output the next one's input", () => {
    const run = newRun({ sequence: [{ function: 'f' }, { function: 'g' }, { function: 'h' }] })
    const sim = simulate(run, 0, (call) => ({ ok: `${call.fn}(${String(call.input)})` }))
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: 'h(g(f(0)))' })
    expect(invokes(sim.effects.map((e) => e.effect)).map((i) => [i.stepPath, i.input])).toEqual([
      ['/definition/sequence/0', 0],
      ['/definition/sequence/1', 'f(0)'],
      ['/definition/sequence/2', 'g(f(0))'],
    ])
    expect(sim.now).toBe(30)
  })

  it('runs a parallel on the same input and gathers the outputs in order', () => {
    const run = newRun({ parallel: [{ function: 'f' }, { function: 'g' }, { function: 'h' }] })
    const started = invokes(run.start('in', 0))
    expect(started.map((i) => [i.taskId, i.fn, i.input])).toEqual([
      ['r/t1', 'f', 'in'],
      ['r/t2', 'g', 'in'],
      ['r/t3', 'h', 'in'],
    ])
    // Answers in reverse order: the output keeps definition order.
    expect(run.handle({ type: 'task-completed', taskId: 'r/t3', output: 'H' }, 1)).toEqual([])
    expect(run.handle({ type: 'task-completed', taskId: 'r/t1', output: 'F' }, 2)).toEqual([])
    expect(run.handle({ type: 'task-completed', taskId: 'r/t2', output: 'G' }, 3)).toEqual([
      { type: 'done', status: 'succeeded', output: ['F', 'G', 'H'] },
    ])
  })

  describe('a map', () => {
    it('runs its step on every item of `items` and gathers the outputs in order', () => {
      const run = newRun({ map: { function: 'f' }, items: '$.files' })
      const sim = simulate(run, { files: [3, 1, 2] }, (call) => ({
        ok: (call.input as number) * 10,
        after: call.input as number,
      }))
      expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: [30, 10, 20] })
      expect(run.trace().root).toMatchObject({
        items: { total: 3, started: 3, succeeded: 3, failed: 0 },
        children: [
          { path: '/definition/map[0]', status: 'succeeded' },
          { path: '/definition/map[1]', status: 'succeeded' },
          { path: '/definition/map[2]', status: 'succeeded' },
        ],
      })
    })

    it('of nothing succeeds at once with []', () => {
      const run = newRun({ map: { function: 'f' } })
      expect(run.start([], 0)).toEqual([{ type: 'done', status: 'succeeded', output: [] }])
    })

    it('fails when its items are not an array, and does not retry that', () => {
      const run = newRun({ map: { function: 'f' }, items: '$.files', retries: 3 })
      expect(run.start({ files: 'a.png' }, 0)).toEqual([
        {
          type: 'done',
          status: 'failed',
          error: {
            code: 'not-an-array',
            message: 'items $.files is not an array (it is string)',
            step: '/definition',
          },
        },
      ])
      expect(run.trace().root.attempts).toBe(1)
    })

    it('runs at most maxConcurrency items at once, over 100,000 items', () => {
      const run = newRun({ map: { function: 'f' }, maxConcurrency: 5 })
      const items = Array.from({ length: 100_000 }, (_, i) => i)
      const first = run.start(items, 0)
      expect(first).toHaveLength(5)
      expect(invokes(first).map((i) => i.input)).toEqual([0, 1, 2, 3, 4])
      // One answer lets exactly one more item start.
      expect(run.handle({ type: 'task-completed', taskId: 'r/t3', output: 2 }, 1)).toEqual([
        {
          type: 'invoke',
          taskId: 'r/t6',
          stepPath: '/definition/map[5]',
          fn: 'f',
          input: 5,
          attempt: 1,
        },
      ])
      const rest = simulate(
        newRun({ map: { function: 'f' }, maxConcurrency: 5 }),
        items,
        (call) => ({
          ok: call.input,
          after: 1 + ((call.input as number) % 7),
        }),
      )
      expect(rest.maxInflight).toBe(5)
      expect(rest.done.status).toBe('succeeded')
      const output = (rest.done as { output: unknown[] }).output
      expect(output).toHaveLength(items.length)
      expect(output.every((value, i) => value === i)).toBe(true)
    }, 60_000)

    it('runs 16 items at once when it does not say', () => {
      const run = newRun({ map: { function: 'f' } })
      expect(
        invokes(
          run.start(
            Array.from({ length: 100 }, (_, i) => i),
            0,
          ),
        ),
      ).toHaveLength(16)
    })
  })

  describe('a choice', () => {
    const definition = {
      choice: [
        { when: '$.size > 1000', then: { function: 'f' } },
        { when: '$.kind == "image"', then: { function: 'g' } },
      ],
      otherwise: { function: 'h' },
    }

    it.each([
      [{ size: 5000, kind: 'image' }, 'f', 0],
      [{ size: 10, kind: 'image' }, 'g', 1],
      [{ size: 10, kind: 'text' }, 'h', 'otherwise'],
    ])('on %j runs %s', (input, fn, branch) => {
      const run = newRun(definition)
      const sim = simulate(run, input, echo)
      expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: { fn, input } })
      const root = run.trace().root
      expect(root.branch).toBe(branch)
      expect(root.children?.map((c) => [c.fn, c.status])).toEqual(
        ['f', 'g', 'h'].map((name) => [name, name === fn ? 'succeeded' : 'skipped']),
      )
    })

    it('fails clearly when no branch holds and it has no otherwise', () => {
      const run = newRun({
        sequence: [{ choice: [{ when: '$ > 1', then: { function: 'f' } }] }, { function: 'g' }],
      })
      expect(run.start(0, 7)).toEqual([
        {
          type: 'done',
          status: 'failed',
          error: {
            code: 'no-match',
            message: 'no branch of the choice matched and it has no otherwise',
            step: '/definition/sequence/0',
          },
        },
      ])
      expect(run.trace().root.children?.map((c) => [c.path, c.status])).toEqual([
        ['/definition/sequence/0', 'failed'],
        ['/definition/sequence/1', 'skipped'],
      ])
    })
  })

  it('runs a referenced choreography as one step', () => {
    const plan = compile(
      { sequence: [{ function: 'f' }, { choreography: 'inner' }] },
      { inner: { parallel: [{ function: 'g' }, { function: 'h' }] } },
    )
    const run = new ChoreographyRun(plan, { id: 'r' })
    const sim = simulate(run, 1, (call) => ({ ok: `${call.fn}${String(call.input)}` }))
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: ['gf1', 'hf1'] })
    const inner = run.trace().root.children?.[1]
    expect(inner).toMatchObject({
      path: '/definition/sequence/1',
      kind: 'choreography',
      choreography: 'inner',
      status: 'succeeded',
      children: [
        {
          path: '/definition/sequence/1/choreography/definition',
          kind: 'parallel',
          children: [
            { path: '/definition/sequence/1/choreography/definition/parallel/0', fn: 'g' },
            { path: '/definition/sequence/1/choreography/definition/parallel/1', fn: 'h' },
          ],
        },
      ],
    })
  })

  it('runs a choreography of all four kinds with the exact output and trace', () => {
    // Classify the upload, then either process every image (resize and detect side by
    // side, each image) and store the results, or just store the document.
    const run = new ChoreographyRun(
      compile({
        name: 'ingest',
        sequence: [
          { name: 'classify', function: 'classify' },
          {
            choice: [
              {
                when: '$.kind == "album" && $.images[0] != null',
                then: {
                  sequence: [
                    {
                      map: { parallel: [{ function: 'resize' }, { function: 'detect' }] },
                      items: '$.images',
                      maxConcurrency: 2,
                    },
                    { function: 'store' },
                  ],
                },
              },
            ],
            otherwise: { function: 'store' },
          },
        ],
      }),
      { id: 'inv-7' },
    )
    const peers = ['p1', 'p2', 'p3']
    let calls = 0
    const answer = (call: Invoke): Answer => {
      const peer = peers[calls++ % peers.length] as string
      switch (call.fn) {
        case 'classify':
          return { ok: { kind: 'album', images: ['a', 'b', 'c'] }, after: 5, peer }
        case 'resize':
          return { ok: `${String(call.input)}-small`, after: 20, peer }
        case 'detect':
          return {
            ok: { image: call.input, faces: (call.input as string).length },
            after: 30,
            peer,
          }
        default:
          return { ok: { stored: call.input }, after: 7, peer }
      }
    }
    const sim = simulate(run, { upload: 'u1' }, answer, { start: 1000 })
    const outputs = [
      ['a-small', { image: 'a', faces: 1 }],
      ['b-small', { image: 'b', faces: 1 }],
      ['c-small', { image: 'c', faces: 1 }],
    ]
    expect(sim.done).toEqual({ type: 'done', status: 'succeeded', output: { stored: outputs } })
    expect(sim.maxInflight).toBe(4)
    const task = (
      path: string,
      fn: string,
      taskId: string,
      invokedAt: number,
      endedAt: number,
      peerId: string,
    ) => ({
      path,
      kind: 'task',
      fn,
      status: 'succeeded',
      attempts: 1,
      startedAt: invokedAt,
      endedAt,
      tasks: [{ taskId, attempt: 1, status: 'succeeded', invokedAt, endedAt, peerId }],
    })
    const item = (i: number, start: number, ids: [string, string], peers: [string, string]) => ({
      path: `/definition/sequence/1/choice/0/then/sequence/0/map[${i}]`,
      kind: 'parallel',
      status: 'succeeded',
      attempts: 1,
      startedAt: start,
      endedAt: start + 30,
      children: [
        task(
          `/definition/sequence/1/choice/0/then/sequence/0/map[${i}]/parallel/0`,
          'resize',
          ids[0],
          start,
          start + 20,
          peers[0],
        ),
        task(
          `/definition/sequence/1/choice/0/then/sequence/0/map[${i}]/parallel/1`,
          'detect',
          ids[1],
          start,
          start + 30,
          peers[1],
        ),
      ],
    })
    expect(run.trace()).toEqual({
      id: 'inv-7',
      choreography: 'test',
      status: 'succeeded',
      startedAt: 1000,
      endedAt: 1072,
      root: {
        path: '/definition',
        kind: 'sequence',
        name: 'ingest',
        status: 'succeeded',
        attempts: 1,
        startedAt: 1000,
        endedAt: 1072,
        children: [
          {
            ...task('/definition/sequence/0', 'classify', 'inv-7/t1', 1000, 1005, 'p1'),
            name: 'classify',
          },
          {
            path: '/definition/sequence/1',
            kind: 'choice',
            status: 'succeeded',
            attempts: 1,
            startedAt: 1005,
            endedAt: 1072,
            branch: 0,
            children: [
              {
                path: '/definition/sequence/1/choice/0/then',
                kind: 'sequence',
                status: 'succeeded',
                attempts: 1,
                startedAt: 1005,
                endedAt: 1072,
                children: [
                  {
                    path: '/definition/sequence/1/choice/0/then/sequence/0',
                    kind: 'map',
                    status: 'succeeded',
                    attempts: 1,
                    startedAt: 1005,
                    endedAt: 1065,
                    items: { total: 3, started: 3, succeeded: 3, failed: 0 },
                    children: [
                      item(0, 1005, ['inv-7/t2', 'inv-7/t3'], ['p2', 'p3']),
                      item(1, 1005, ['inv-7/t4', 'inv-7/t5'], ['p1', 'p2']),
                      item(2, 1035, ['inv-7/t6', 'inv-7/t7'], ['p3', 'p1']),
                    ],
                  },
                  task(
                    '/definition/sequence/1/choice/0/then/sequence/1',
                    'store',
                    'inv-7/t8',
                    1065,
                    1072,
                    'p2',
                  ),
                ],
              },
              {
                path: '/definition/sequence/1/otherwise',
                kind: 'task',
                fn: 'store',
                status: 'skipped',
                attempts: 0,
                tasks: [],
              },
            ],
          },
        ],
      },
    })
  })

  describe('failure', () => {
    it('of a parallel branch fails the parallel and cancels the running siblings', () => {
      const run = newRun({
        sequence: [
          {
            parallel: [
              { function: 'f' },
              { sequence: [{ function: 'g' }, { function: 'h' }] },
              { function: 'h' },
            ],
          },
          { function: 'store' },
        ],
      })
      expect(invokes(run.start('x', 0)).map((i) => i.taskId)).toEqual(['r/t1', 'r/t2', 'r/t3'])
      expect(run.handle({ type: 'task-completed', taskId: 'r/t3', output: 1 }, 1)).toEqual([])
      expect(run.handle({ type: 'task-failed', taskId: 'r/t1', error: 'bad input' }, 2)).toEqual([
        { type: 'cancel', taskId: 'r/t2', reason: 'not-needed' },
        {
          type: 'done',
          status: 'failed',
          error: {
            code: 'task-failed',
            message: 'bad input',
            step: '/definition/sequence/0/parallel/0',
          },
        },
      ])
      expect(run.inflight).toBe(0)
      const parallel = run.trace().root.children?.[0]
      const cancelled = {
        code: 'cancelled',
        message: 'cancelled: /definition/sequence/0/parallel/0 failed',
      }
      expect(parallel).toMatchObject({
        status: 'failed',
        error: { code: 'task-failed', step: '/definition/sequence/0/parallel/0' },
        children: [
          { status: 'failed', error: { code: 'task-failed' } },
          {
            status: 'failed',
            error: { ...cancelled, step: '/definition/sequence/0/parallel/1' },
            children: [
              {
                status: 'failed',
                error: { ...cancelled, step: '/definition/sequence/0/parallel/1/sequence/0' },
                tasks: [{ taskId: 'r/t2', status: 'cancelled', endedAt: 2 }],
              },
              { status: 'skipped' },
            ],
          },
          { status: 'succeeded' },
        ],
      })
      expect(run.trace().root.children?.[1]?.status).toBe('skipped')
      // A late answer of the cancelled task changes nothing.
      expect(run.handle({ type: 'task-completed', taskId: 'r/t2', output: 0 }, 3)).toMatchObject([
        { type: 'rejected', reason: 'stale-task' },
      ])
    })

    it('of a map item cancels the running items and starts no more', () => {
      const run = newRun({ map: { function: 'f' }, maxConcurrency: 3 })
      run.start([1, 2, 3, 4, 5, 6], 0)
      expect(run.handle({ type: 'task-failed', taskId: 'r/t2', error: 'no' }, 1)).toEqual([
        { type: 'cancel', taskId: 'r/t1', reason: 'not-needed' },
        { type: 'cancel', taskId: 'r/t3', reason: 'not-needed' },
        {
          type: 'done',
          status: 'failed',
          error: { code: 'task-failed', message: 'no', step: '/definition/map[1]' },
        },
      ])
      expect(run.trace().root.items).toEqual({ total: 6, started: 3, succeeded: 0, failed: 3 })
    })
  })

  describe('the run-wide cap on tasks in flight', () => {
    it('queues tasks beyond it, first come first served', () => {
      const run = newRun(
        { parallel: [1, 2, 3, 4, 5].map(() => ({ function: 'f' })) },
        { maxInflightTasks: 2 },
      )
      expect(invokes(run.start(0, 0)).map((i) => i.taskId)).toEqual(['r/t1', 'r/t2'])
      expect(run.trace().root.children?.[4]?.tasks).toEqual([
        { taskId: 'r/t5', attempt: 1, status: 'queued' },
      ])
      // A queued task has not been invoked: an answer for it is refused.
      expect(run.handle({ type: 'task-completed', taskId: 'r/t5' }, 1)).toMatchObject([
        { type: 'rejected', reason: 'unknown-task' },
      ])
      expect(
        invokes(run.handle({ type: 'task-completed', taskId: 'r/t2' }, 1)).map((i) => i.taskId),
      ).toEqual(['r/t3'])
      const sim = simulate(
        newRun(
          { parallel: [1, 2, 3, 4, 5].map(() => ({ function: 'f' })) },
          { maxInflightTasks: 2 },
        ),
        0,
        echo,
      )
      expect(sim.maxInflight).toBe(2)
      expect(sim.done.status).toBe('succeeded')
    })

    it('bounds nested maps too', () => {
      const sim = simulate(
        newRun(
          { map: { map: { function: 'f' }, maxConcurrency: 100 }, maxConcurrency: 100 },
          { maxInflightTasks: 50 },
        ),
        Array.from({ length: 20 }, () => Array.from({ length: 20 }, (_, i) => i)),
        echo,
      )
      expect(sim.maxInflight).toBe(50)
      expect(sim.done.status).toBe('succeeded')
    })
  })

  it('refuses bad options', () => {
    const plan = compile({ function: 'f' })
    expect(() => new ChoreographyRun(plan, { id: '' })).toThrow(InvalidRunOptionsError)
    expect(() => new ChoreographyRun(plan, { id: 'r', maxInflightTasks: 0 })).toThrow(
      InvalidRunOptionsError,
    )
    expect(() => new ChoreographyRun(plan, { id: 'r', maxInflightTasks: 1.5 })).toThrow(
      InvalidRunOptionsError,
    )
  })

  it('shows a pending trace before it starts', () => {
    const run = newRun({ sequence: [{ function: 'f' }] })
    expect(run.trace()).toEqual({
      id: 'r',
      choreography: 'test',
      status: 'pending',
      root: {
        path: '/definition',
        kind: 'sequence',
        status: 'pending',
        attempts: 0,
        children: [
          {
            path: '/definition/sequence/0',
            kind: 'task',
            fn: 'f',
            status: 'pending',
            attempts: 0,
            tasks: [],
          },
        ],
      },
    })
  })
})
