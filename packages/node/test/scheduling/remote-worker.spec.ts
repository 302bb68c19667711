/**
 * RemoteWorkers: the `execute` / `execute.cancel` RPC between a scheduler's peer and a worker
 * peer. Two instances talk through an in-memory RPC that copies bodies as JSON and turns
 * thrown errors into `{ code, message }` answers, as the peer channels do.
 */
import { describe, expect, it } from 'vitest'
import { ChorusError, asChorusError } from '../../src/errors.js'
import {
  EXECUTE_CANCEL_METHOD,
  EXECUTE_METHOD,
  RemoteWorkers,
  type ExecuteAnswer,
  type RemoteWorkerRpc,
  type RemoteWorkersInit,
} from '../../src/scheduling/remote-worker.js'
import type {
  DispatchEffect,
  ProviderLease,
  ProviderRuntime,
} from '../../src/scheduling/provider.js'
import { deferred, type Deferred } from '../deferred.js'
import { dispatchOf } from './dispatch-of.js'

const SCHEDULER = 'peer-scheduler'
const WORKER = 'peer-worker'
const OWNER = 'alice'
const PROVIDER = 'mesh'

/** Resolves when `signal` aborts (at once if it has). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

type Handler = (body: unknown, from: string) => unknown

interface Sent {
  readonly from: string
  readonly to: string
  readonly method: string
  readonly body: unknown
  readonly timeoutMs: number | undefined
}

/** What crosses the wire: JSON, never the sender's own objects. */
function wire(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}

/** Peers that reach each other's handlers directly, recording every request. */
class FakeMesh {
  readonly #handlers = new Map<string, Map<string, Handler>>()
  readonly sent: Sent[] = []

  rpc(self: string): RemoteWorkerRpc {
    return {
      handle: (method, handler) => {
        const mine = this.#handlers.get(self) ?? new Map<string, Handler>()
        mine.set(method, handler)
        this.#handlers.set(self, mine)
      },
      request: async (to, method, body, timeoutMs) => {
        this.sent.push({ from: self, to, method, body, timeoutMs })
        const handler = this.#handlers.get(to)?.get(method)
        if (handler === undefined) {
          throw new ChorusError('peer-unreachable', `${to} does not answer ${method}`)
        }
        try {
          return wire(await Promise.resolve(handler(wire(body), self)))
        } catch (err) {
          const e = asChorusError(err)
          throw new ChorusError(e.code, e.message)
        }
      },
    }
  }

  sentOf(method: string): Sent[] {
    return this.sent.filter((s) => s.method === method)
  }
}

interface RunCall {
  readonly index: number
  readonly id: string
  readonly input: unknown
  readonly signal: AbortSignal
  readonly result: Deferred<unknown>
}

/**
 * A provider whose runs the test settles by hand (or at once with `answer`); a run rejects
 * when its signal aborts, as a real host's does.
 */
class FakeRuntime implements ProviderRuntime {
  busy: string | undefined
  answer: ((id: string, input: unknown) => unknown) | undefined
  readonly acquired: { owner: string; dispatch: DispatchEffect }[] = []
  readonly runs = new Map<string, RunCall>()
  readonly #waiters = new Map<string, ((call: RunCall) => void)[]>()

  spec(): undefined {
    return undefined
  }

  acquire(owner: string, dispatch: DispatchEffect): Promise<ProviderLease> {
    this.acquired.push({ owner, dispatch })
    if (this.busy !== undefined) return Promise.resolve({ type: 'busy', message: this.busy })
    return Promise.resolve({
      type: 'ready',
      run: (index, id, input, signal) => {
        const call: RunCall = { index, id, input, signal, result: deferred<unknown>() }
        this.runs.set(id, call)
        signal.addEventListener('abort', () => call.result.reject(new Error(`${id} aborted`)), {
          once: true,
        })
        if (this.answer !== undefined) call.result.resolve(this.answer(id, input))
        for (const waiter of this.#waiters.get(id) ?? []) waiter(call)
        this.#waiters.delete(id)
        return call.result.promise
      },
    })
  }

  /** The run of invocation `id`, once it has started. */
  started(id: string): Promise<RunCall> {
    const call = this.runs.get(id)
    if (call !== undefined) return Promise.resolve(call)
    return new Promise((resolve) => {
      this.#waiters.set(id, [...(this.#waiters.get(id) ?? []), resolve])
    })
  }
}

function toWorker(inputs: readonly unknown[], fn = 'resize'): DispatchEffect {
  return dispatchOf(inputs, { fn, version: '1.abc', worker: WORKER })
}

function signalsFor(dispatch: DispatchEffect): AbortController[] {
  return dispatch.invocations.map(() => new AbortController())
}

/**
 * `scheduler` sends `dispatch` to the worker peer (by default; with a fresh signal per
 * invocation unless given), for a function whose own deadline is 1 s.
 */
function send(
  scheduler: RemoteWorkers,
  dispatch: DispatchEffect,
  signals: readonly AbortSignal[] = signalsFor(dispatch).map((c) => c.signal),
  to: { worker?: string; provider?: string } = {},
): Promise<ExecuteAnswer> {
  const { worker = WORKER, provider = PROVIDER } = to
  return scheduler.dispatch(worker, OWNER, provider, dispatch, signals, 1_000)
}

function setup(init: Partial<Omit<RemoteWorkersInit, 'rpc' | 'runtimes'>> = {}) {
  const mesh = new FakeMesh()
  const runtime = new FakeRuntime()
  const executed: string[] = []
  const scheduler = new RemoteWorkers({ rpc: mesh.rpc(SCHEDULER), runtimes: {} })
  const worker = new RemoteWorkers({
    rpc: mesh.rpc(WORKER),
    runtimes: { [PROVIDER]: runtime },
    onExecute: (fn) => executed.push(fn),
    ...init,
  })
  return { mesh, runtime, scheduler, worker, executed }
}

describe('RemoteWorkers dispatch', () => {
  it('runs every invocation on the worker and answers the outcomes in dispatch order', async () => {
    const { runtime, scheduler, executed } = setup()
    const dispatch = toWorker([{ n: 1 }, { n: 2 }, { n: 3 }])
    const controllers = signalsFor(dispatch)
    const answer = send(
      scheduler,
      dispatch,
      controllers.map((c) => c.signal),
    )
    const [first, second, third] = await Promise.all([
      runtime.started('i1'),
      runtime.started('i2'),
      runtime.started('i3'),
    ])
    // Settled out of order: the answer still follows the dispatch's order.
    third.result.resolve({ out: 3 })
    second.result.reject(new Error('second broke'))
    first.result.resolve('one')

    await expect(answer).resolves.toEqual({
      type: 'done',
      outcomes: [
        { status: 'succeeded', output: 'one' },
        { status: 'failed', error: 'second broke' },
        { status: 'succeeded', output: { out: 3 } },
      ],
    })
    expect(runtime.acquired).toHaveLength(1)
    expect(runtime.acquired[0]?.owner).toBe(OWNER)
    expect(runtime.acquired[0]?.dispatch).toEqual(dispatch)
    expect([first, second, third].map((c) => [c.index, c.id, c.input])).toEqual([
      [0, 'i1', { n: 1 }],
      [1, 'i2', { n: 2 }],
      [2, 'i3', { n: 3 }],
    ])
    expect(executed).toEqual(['resize', 'resize', 'resize'])
  })

  it('gives the worker more time than the function deadline to answer', async () => {
    const { mesh, runtime, scheduler } = setup()
    runtime.answer = () => 'ok'
    const dispatch = toWorker(['x'])
    await send(scheduler, dispatch)
    const [execute] = mesh.sentOf(EXECUTE_METHOD)
    expect(execute).toMatchObject({ from: SCHEDULER, to: WORKER })
    expect(execute?.body).toEqual({ owner: OWNER, provider: PROVIDER, dispatch })
    expect(execute?.timeoutMs).toBeGreaterThan(1_000)
  })

  it('passes a busy worker back and runs nothing', async () => {
    const { runtime, scheduler, executed } = setup()
    runtime.busy = 'no slot for resize'
    const dispatch = toWorker(['a', 'b'])
    const answer = await send(scheduler, dispatch)
    expect(answer).toEqual({ type: 'busy', message: 'no slot for resize' })
    expect(runtime.runs.size).toBe(0)
    expect(executed).toEqual([])
  })

  it('awaits prepare, with the sender as from, before acquiring', async () => {
    const prepared = deferred<void>()
    const called = deferred<{ owner: string; dispatch: DispatchEffect; from: string }>()
    const { runtime, scheduler } = setup({
      prepare: (owner, dispatch, from) => {
        called.resolve({ owner, dispatch, from })
        return prepared.promise
      },
    })
    runtime.answer = (id) => `${id} done`
    const dispatch = toWorker(['a'])
    const answer = send(scheduler, dispatch)
    const args = await called.promise
    expect(args).toEqual({ owner: OWNER, dispatch, from: SCHEDULER })
    // Let every pending callback run: prepare has not settled, so nothing is acquired.
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(runtime.acquired).toHaveLength(0)

    prepared.resolve()
    await expect(answer).resolves.toEqual({
      type: 'done',
      outcomes: [{ status: 'succeeded', output: 'i1 done' }],
    })
    expect(runtime.acquired).toHaveLength(1)
  })

  it('fails the dispatch, acquiring nothing, when prepare fails', async () => {
    const { runtime, scheduler } = setup({
      prepare: () => Promise.reject(new ChorusError('unknown-function', 'no resize for alice')),
    })
    const dispatch = toWorker(['a'])
    await expect(send(scheduler, dispatch)).rejects.toMatchObject({
      code: 'unknown-function',
      message: 'no resize for alice',
    })
    expect(runtime.acquired).toHaveLength(0)
  })

  it('keeps a cancel that arrives while the dispatch is being prepared: that run starts aborted', async () => {
    const called = deferred<void>()
    const prepared = deferred<void>()
    const { mesh, runtime, scheduler } = setup({
      prepare: () => {
        called.resolve()
        return prepared.promise
      },
    })
    const controller = new AbortController()
    const answer = send(scheduler, toWorker(['a']), [controller.signal])
    await called.promise
    controller.abort()
    expect(mesh.sentOf(EXECUTE_CANCEL_METHOD)).toHaveLength(1)
    // Let the cancel reach the worker before the dispatch goes on.
    await new Promise((resolve) => setImmediate(resolve))
    prepared.resolve()
    const run = await runtime.started('i1')
    expect(run.signal.aborted).toBe(true)
    run.result.reject(new Error('i1 aborted'))
    await expect(answer).resolves.toMatchObject({ type: 'done' })
  })

  it('sends execute.cancel when one invocation is aborted, and only that run stops', async () => {
    const { mesh, runtime, scheduler } = setup()
    const dispatch = toWorker(['a', 'b'])
    const controllers = signalsFor(dispatch)
    const answer = send(
      scheduler,
      dispatch,
      controllers.map((c) => c.signal),
    )
    const [first, second] = await Promise.all([runtime.started('i1'), runtime.started('i2')])

    controllers[1]?.abort()
    await aborted(second.signal)
    expect(first.signal.aborted).toBe(false)
    expect(mesh.sentOf(EXECUTE_CANCEL_METHOD)).toEqual([
      {
        from: SCHEDULER,
        to: WORKER,
        method: EXECUTE_CANCEL_METHOD,
        body: { ids: ['i2'] },
        timeoutMs: expect.any(Number) as number,
      },
    ])

    first.result.resolve('a done')
    await expect(answer).resolves.toEqual({
      type: 'done',
      outcomes: [
        { status: 'succeeded', output: 'a done' },
        { status: 'failed', error: 'i2 aborted' },
      ],
    })
    // Answered: aborting now sends nothing more.
    controllers[0]?.abort()
    expect(mesh.sentOf(EXECUTE_CANCEL_METHOD)).toHaveLength(1)
  })

  it.each(['elsewhere', 'toString', '__proto__'])(
    'refuses a dispatch for provider %j that the worker does not run',
    async (provider) => {
      const { runtime, scheduler } = setup()
      const dispatch = toWorker(['a'])
      await expect(send(scheduler, dispatch, undefined, { provider })).rejects.toMatchObject({
        code: 'bad-request',
        message: expect.stringContaining(provider) as string,
      })
      expect(runtime.acquired).toHaveLength(0)
    },
  )

  it('takes a dispatch of 1000 invocations', async () => {
    const { runtime, scheduler } = setup()
    runtime.answer = (_id, input) => input
    const dispatch = toWorker(Array.from({ length: 1_000 }, (_, i) => i))
    const answer = await send(scheduler, dispatch)
    expect(answer.type).toBe('done')
    expect(
      answer.type === 'done' && answer.outcomes.map((o) => o.status === 'succeeded' && o.output),
    ).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
  })
})

describe('RemoteWorkers on malformed messages', () => {
  const valid = { owner: OWNER, provider: PROVIDER, dispatch: toWorker(['a']) }
  const { dispatch } = valid
  const cases: [string, unknown][] = [
    ['null', null],
    ['a string', 'execute'],
    ['no dispatch', { owner: OWNER, provider: PROVIDER }],
    ['no owner', { provider: PROVIDER, dispatch }],
    ['a number as provider', { owner: OWNER, provider: 7, dispatch }],
    ['a dispatch of another type', { ...valid, dispatch: { ...dispatch, type: 'cancel' } }],
    ['no version', { ...valid, dispatch: { ...dispatch, version: undefined } }],
    ['invocations not an array', { ...valid, dispatch: { ...dispatch, invocations: {} } }],
    ['no invocations', { ...valid, dispatch: { ...dispatch, invocations: [] } }],
    [
      '1001 invocations',
      { ...valid, dispatch: toWorker(Array.from({ length: 1_001 }, (_, i) => i)) },
    ],
    [
      'a number as invocation id',
      { ...valid, dispatch: { ...dispatch, invocations: [{ id: 7, attempt: 1, input: null }] } },
    ],
    [
      'an invocation without attempt',
      { ...valid, dispatch: { ...dispatch, invocations: [{ id: 'i1', input: null }] } },
    ],
    ['a null invocation', { ...valid, dispatch: { ...dispatch, invocations: [null] } }],
    [
      'attempt 0',
      { ...valid, dispatch: { ...dispatch, invocations: [{ id: 'i1', attempt: 0, input: null }] } },
    ],
    ['no hostId', { ...valid, dispatch: { ...dispatch, hostId: undefined } }],
  ]

  it.each(cases)('refuses an execute request with %s, running nothing', async (_name, body) => {
    let prepared = 0
    const { mesh, runtime, executed } = setup({
      prepare: () => {
        prepared++
        return Promise.resolve()
      },
    })
    await expect(mesh.rpc(SCHEDULER).request(WORKER, EXECUTE_METHOD, body)).rejects.toMatchObject({
      code: 'protocol-error',
      message: expect.stringContaining('execute/1: malformed message') as unknown,
    })
    expect(prepared).toBe(0)
    expect(runtime.acquired).toHaveLength(0)
    expect(executed).toEqual([])
  })

  it('accepts the valid body the malformed ones are made from', async () => {
    const { mesh, runtime } = setup()
    runtime.answer = () => 1
    await expect(mesh.rpc(SCHEDULER).request(WORKER, EXECUTE_METHOD, valid)).resolves.toEqual({
      type: 'done',
      outcomes: [{ status: 'succeeded', output: 1 }],
    })
  })

  it.each<[string, unknown]>([
    ['null', null],
    ['no ids', {}],
    ['a number as id', { ids: ['i1', 2] }],
  ])('refuses an execute.cancel request with %s', async (_name, body) => {
    const { mesh } = setup()
    await expect(
      mesh.rpc(SCHEDULER).request(WORKER, EXECUTE_CANCEL_METHOD, body),
    ).rejects.toMatchObject({ code: 'protocol-error' })
  })

  it.each<[string, unknown]>([
    ['null', null],
    ['an unknown type', { type: 'maybe' }],
    ['busy without a message', { type: 'busy' }],
    ['too few outcomes', { type: 'done', outcomes: [{ status: 'succeeded', output: 1 }] }],
    [
      'too many outcomes',
      {
        type: 'done',
        outcomes: [1, 2, 3].map((output) => ({ status: 'succeeded', output })),
      },
    ],
    [
      'an unknown status',
      {
        type: 'done',
        outcomes: [
          { status: 'succeeded', output: 1 },
          { status: 'ok', output: 2 },
        ],
      },
    ],
    [
      'a failure without an error',
      {
        type: 'done',
        outcomes: [{ status: 'succeeded', output: 1 }, { status: 'failed' }],
      },
    ],
    ['outcomes not an array', { type: 'done', outcomes: 'all good' }],
  ])('rejects a worker answer with %s as a protocol error', async (_name, reply) => {
    const mesh = new FakeMesh()
    const rogue = 'peer-rogue'
    mesh.rpc(rogue).handle(EXECUTE_METHOD, () => reply)
    const scheduler = new RemoteWorkers({ rpc: mesh.rpc(SCHEDULER), runtimes: {} })
    const dispatch = toWorker(['a', 'b'])
    await expect(send(scheduler, dispatch, undefined, { worker: rogue })).rejects.toMatchObject({
      code: 'protocol-error',
    })
  })
})

describe('RemoteWorkers.stop', () => {
  it('aborts every invocation running for other peers', async () => {
    const { runtime, scheduler, worker } = setup()
    const dispatch = toWorker(['a', 'b'])
    const answer = send(scheduler, dispatch)
    const runs = await Promise.all([runtime.started('i1'), runtime.started('i2')])
    expect(runs.map((r) => r.signal.aborted)).toEqual([false, false])

    worker.stop()
    expect(runs.map((r) => r.signal.aborted)).toEqual([true, true])
    await expect(answer).resolves.toEqual({
      type: 'done',
      outcomes: [
        { status: 'failed', error: 'i1 aborted' },
        { status: 'failed', error: 'i2 aborted' },
      ],
    })
  })
})

describe('RemoteWorkers.drain (a leaving peer)', () => {
  it('lets what runs finish, answers new dispatches busy, and says when it is idle', async () => {
    const { runtime, scheduler, worker } = setup()
    expect(worker.busy).toBe(false)
    const first = toWorker(['a'])
    const running = send(scheduler, first)
    const run = await runtime.started('i1')
    expect(worker.busy).toBe(true)

    worker.drain()
    const later = toWorker(['b'])
    await expect(send(scheduler, later)).resolves.toEqual({
      type: 'busy',
      message: 'this peer is leaving the mesh',
    })
    expect(runtime.acquired).toHaveLength(1)
    expect(run.signal.aborted).toBe(false)

    run.result.resolve('a done')
    await expect(running).resolves.toEqual({
      type: 'done',
      outcomes: [{ status: 'succeeded', output: 'a done' }],
    })
    expect(worker.busy).toBe(false)
  })
})
