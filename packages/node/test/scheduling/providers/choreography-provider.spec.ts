/**
 * The `choreography` provider: it drives a ChoreographyRun, invoking each step through a
 * fake `invokeStep` whose answers the tests control.
 */
import { describe, expect, it } from 'vitest'
import { ChoreographyProvider } from '../../../src/scheduling/providers/choreography-provider.js'
import type { ChoreographyDefinition, FunctionDefinition } from '../../../src/definitions/index.js'
import type { InvocationView } from '../../../src/peer-api.js'
import type { DispatchEffect } from '../../../src/scheduling/provider.js'
import { deferred, type Deferred } from '../../deferred.js'
import { dispatchOf } from '../dispatch-of.js'

const OWNER = 'alice'

function succeeded(output: unknown, peerId?: string): InvocationView {
  return { id: 'step', status: 'succeeded', output, ...(peerId === undefined ? {} : { peerId }) }
}

function failed(message: string, peerId?: string): InvocationView {
  return {
    id: 'step',
    status: 'failed',
    error: { code: 'function-error', message },
    ...(peerId === undefined ? {} : { peerId }),
  }
}

/** What a step's function does with one invocation: its nth call counts from 1. */
type Step = (input: unknown, signal: AbortSignal, nth: number) => Promise<InvocationView>

interface StepCall {
  readonly owner: string
  readonly fn: string
  readonly input: unknown
  readonly signal: AbortSignal
}

const never = (): Promise<InvocationView> => new Promise<InvocationView>(() => {})

function fnDef(name: string): FunctionDefinition {
  return {
    owner: OWNER,
    name,
    version: 1,
    revision: `1.${name}`,
    deployedAt: 0,
    origin: 'peer-a',
    runtime: 'nodejs',
    provider: 'mesh',
    memoryMb: 128,
    timeoutMs: 60_000,
    concurrency: 1,
  }
}

function choreographyDef(name: string, definition: unknown, revision = `1.${name}`) {
  const def: ChoreographyDefinition = {
    owner: OWNER,
    name,
    version: 1,
    revision,
    definition,
    deployedAt: 0,
    origin: 'peer-a',
  }
  return def
}

const STEPS: Record<string, Step> = {
  inc: (x) => Promise.resolve(succeeded((x as number) + 1)),
  double: (x) => Promise.resolve(succeeded((x as number) * 2)),
}

function setup(
  choreographies: Record<string, unknown>,
  steps: Record<string, Step> = {},
  functions: readonly string[] = [...Object.keys(STEPS), ...Object.keys(steps)],
) {
  const impl: Record<string, Step> = { ...STEPS, ...steps }
  const calls: StepCall[] = []
  const counts = new Map<string, number>()
  const waiters: { fn: string; n: number; resolve: (call: StepCall) => void }[] = []
  const provider = new ChoreographyProvider({
    definitions: {
      getChoreography: (owner, name) =>
        owner === OWNER && Object.hasOwn(choreographies, name)
          ? choreographyDef(name, choreographies[name])
          : undefined,
      getFunction: (owner, name) =>
        owner === OWNER && functions.includes(name) ? fnDef(name) : undefined,
    },
    invokeStep: (owner, fn, input, signal) => {
      const call = { owner, fn, input, signal }
      calls.push(call)
      const nth = (counts.get(fn) ?? 0) + 1
      counts.set(fn, nth)
      for (const w of waiters.filter((w) => w.fn === fn && w.n === nth)) w.resolve(call)
      const step = impl[fn]
      if (step === undefined) return Promise.reject(new Error(`no step ${fn}`))
      return step(input, signal, nth)
    },
    now: () => Date.now(),
  })

  /** The nth call (from 1) of `fn`, once it is made. */
  function called(fn: string, n = 1): Promise<StepCall> {
    const made = calls.filter((c) => c.fn === fn)[n - 1]
    if (made !== undefined) return Promise.resolve(made)
    return new Promise((resolve) => waiters.push({ fn, n, resolve }))
  }

  async function run(
    name: string,
    input: unknown,
    opts: { id?: string; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const lease = await provider.acquire(OWNER, dispatchFor(name))
    if (lease.type !== 'ready') throw new Error(`lease is ${lease.type}`)
    return lease.run(0, opts.id ?? 'run-1', input, opts.signal ?? new AbortController().signal)
  }

  return { provider, calls, called, run }
}

function dispatchFor(fn: string): DispatchEffect {
  return dispatchOf([null], { fn, version: `1.${fn}`, worker: 'peer-a', ids: ['run-1'] })
}

function stepsOf(calls: readonly StepCall[]): [string, string, unknown][] {
  return calls.map((c) => [c.owner, c.fn, c.input])
}

describe('ChoreographyProvider.spec', () => {
  it('describes a deployed choreography with its revision as version', () => {
    const provider = new ChoreographyProvider({
      definitions: {
        getChoreography: (owner, name) =>
          owner === OWNER && name === 'pipeline'
            ? choreographyDef('pipeline', { function: 'inc' }, '4.cafe')
            : undefined,
        getFunction: () => undefined,
      },
      invokeStep: never,
      now: () => 0,
    })
    expect(provider.spec(OWNER, 'pipeline')).toMatchObject({ name: 'pipeline', version: '4.cafe' })
    expect(provider.spec(OWNER, 'other')).toBeUndefined()
    expect(provider.spec('bob', 'pipeline')).toBeUndefined()
  })
})

describe('ChoreographyProvider runs', () => {
  it('runs a sequence, each step on the previous output', async () => {
    const { run, calls } = setup({
      pipeline: { sequence: [{ function: 'inc' }, { function: 'double' }] },
    })
    await expect(run('pipeline', 3)).resolves.toBe(8)
    expect(stepsOf(calls)).toEqual([
      [OWNER, 'inc', 3],
      [OWNER, 'double', 4],
    ])
  })

  it('runs a parallel on the same input, answering the outputs in order', async () => {
    const slow = deferred<InvocationView>()
    const { run, calls, called } = setup(
      { fanout: { parallel: [{ function: 'slow' }, { function: 'double' }] } },
      { slow: () => slow.promise },
    )
    const result = run('fanout', 5)
    await called('slow')
    await called('double')
    slow.resolve(succeeded('slow done'))
    await expect(result).resolves.toEqual(['slow done', 10])
    expect(stepsOf(calls).sort()).toEqual([
      [OWNER, 'double', 5],
      [OWNER, 'slow', 5],
    ])
  })

  it('runs a map over the items at its path', async () => {
    const { run, calls } = setup({ each: { map: { function: 'inc' }, items: '$.xs' } })
    await expect(run('each', { xs: [10, 20, 30] })).resolves.toEqual([11, 21, 31])
    expect(stepsOf(calls).map(([, fn, input]) => [fn, input])).toEqual([
      ['inc', 10],
      ['inc', 20],
      ['inc', 30],
    ])
  })

  it('runs a choreography step from the owner’s other choreography', async () => {
    const { run, calls } = setup({
      outer: { sequence: [{ choreography: 'inner' }, { function: 'double' }] },
      inner: { sequence: [{ function: 'inc' }, { function: 'inc' }] },
    })
    await expect(run('outer', 1)).resolves.toBe(6)
    expect(stepsOf(calls).map(([, fn]) => fn)).toEqual(['inc', 'inc', 'double'])
  })

  it('fails the run at a failing step, naming it, and runs nothing after it', async () => {
    const { run, calls } = setup(
      {
        pipeline: {
          sequence: [
            { function: 'inc' },
            { name: 'explode', function: 'boom' },
            { function: 'double' },
          ],
        },
      },
      { boom: () => Promise.reject(new Error('kaput')) },
    )
    const error = await run('pipeline', 1).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'bad-request' })
    expect((error as Error).message).toContain('/definition/sequence/1')
    expect((error as Error).message).toContain('kaput')
    expect(stepsOf(calls).map(([, fn]) => fn)).toEqual(['inc', 'boom'])
  })

  it('fails the run with the message of a step whose invocation failed', async () => {
    const { run } = setup(
      { one: { function: 'oom' }, two: { function: 'silent' } },
      {
        oom: () => Promise.resolve(failed('out of memory')),
        silent: () => Promise.resolve({ id: 'step', status: 'failed' }),
      },
    )
    await expect(run('one', 1)).rejects.toThrow(/out of memory/)
    await expect(run('two', 1, { id: 'run-2' })).rejects.toThrow(/the invocation ended failed/)
  })

  it('retries a failing step and answers the attempt that succeeds', async () => {
    const { run, calls } = setup(
      { retried: { function: 'flaky', retries: 2 } },
      {
        flaky: (input, _signal, nth) =>
          Promise.resolve(nth < 3 ? failed(`attempt ${nth} failed`) : succeeded(`ok on ${nth}`)),
      },
    )
    await expect(run('retried', 'x')).resolves.toBe('ok on 3')
    expect(stepsOf(calls)).toEqual([
      [OWNER, 'flaky', 'x'],
      [OWNER, 'flaky', 'x'],
      [OWNER, 'flaky', 'x'],
    ])
  })

  it('fails once a step has used up its retries', async () => {
    const { run, calls } = setup(
      { retried: { function: 'broken', retries: 1 } },
      { broken: (_input, _signal, nth) => Promise.resolve(failed(`attempt ${nth} failed`)) },
    )
    await expect(run('retried', 'x')).rejects.toThrow(/attempt 2 failed/)
    expect(calls).toHaveLength(2)
  })

  it('starts nothing for a run whose signal aborted before it began', async () => {
    const { calls, run } = setup({ pipeline: { function: 'hang' } }, { hang: never })
    const controller = new AbortController()
    controller.abort()
    await expect(run('pipeline', 1, { signal: controller.signal })).rejects.toThrow(/stopped/)
    expect(calls).toEqual([])
  })

  it('keeps two runs with the same id apart: the first ending does not orphan the second', async () => {
    const gates = [deferred<InvocationView>(), deferred<InvocationView>()]
    const { run } = setup(
      { pipeline: { function: 'gated' } },
      { gated: (_input, _signal, nth) => (gates[nth - 1] as Deferred<InvocationView>).promise },
    )
    const first = run('pipeline', 1, { id: 'same' })
    const second = run('pipeline', 2, { id: 'same' })
    gates[0]?.resolve(succeeded('one'))
    await expect(first).resolves.toBe('one')
    gates[1]?.resolve(succeeded('two'))
    await expect(second).resolves.toBe('two')
  })

  it('fails a step that outlives its timeoutMs, on the provider’s own timer', async () => {
    const { run, called } = setup(
      { slow: { sequence: [{ function: 'hang', timeoutMs: 50 }] } },
      { hang: never },
    )
    const error = await run('slow', 1).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'bad-request' })
    expect((error as Error).message).toMatch(/step \/definition\/sequence\/0 failed \(timeout\)/)
    // The timed-out step's invocation is told to stop.
    expect((await called('hang')).signal.aborted).toBe(true)
  }, 5_000)

  it('retries a step that timed out', async () => {
    const { run, calls } = setup(
      { slow: { function: 'hang-once', timeoutMs: 50, retries: 1 } },
      {
        'hang-once': (_input, _signal, nth) =>
          nth === 1 ? never() : Promise.resolve(succeeded('second')),
      },
    )
    await expect(run('slow', 1)).resolves.toBe('second')
    expect(calls).toHaveLength(2)
    expect(calls[0]?.signal.aborted).toBe(true)
  }, 5_000)
})

describe('ChoreographyProvider traces', () => {
  it('shows a run while it runs and keeps its trace after, with where each task ran', async () => {
    const slow = deferred<InvocationView>()
    const { provider, run, called } = setup(
      { pipeline: { sequence: [{ function: 'inc' }, { function: 'slow' }] } },
      { slow: () => slow.promise },
    )
    expect(provider.trace('run-1')).toBeUndefined()
    const result = run('pipeline', 1)
    await called('slow')

    const running = provider.trace('run-1')
    expect(running).toMatchObject({ id: 'run-1', choreography: 'pipeline', status: 'running' })
    expect(running?.root.children?.[1]?.tasks?.[0]?.status).toBe('running')

    slow.resolve(succeeded('done', 'peer-7'))
    await expect(result).resolves.toBe('done')
    const ended = provider.trace('run-1')
    expect(ended?.status).toBe('succeeded')
    expect(ended?.root.children?.[1]?.tasks?.[0]).toMatchObject({
      status: 'succeeded',
      peerId: 'peer-7',
    })
    expect(provider.trace('run-2')).toBeUndefined()
  })

  it('keeps the peer of a failed task and the error of a failed run', async () => {
    const { provider, run } = setup(
      { one: { function: 'oom' } },
      { oom: () => Promise.resolve(failed('out of memory', 'peer-9')) },
    )
    await expect(run('one', 1)).rejects.toThrow()
    const trace = provider.trace('run-1')
    expect(trace?.status).toBe('failed')
    expect(trace?.error?.message).toContain('out of memory')
    expect(trace?.root.tasks?.[0]).toMatchObject({ status: 'failed', peerId: 'peer-9' })
  })
})

describe('ChoreographyProvider stops and refusals', () => {
  it('rejects the run and stops its steps when the run’s signal aborts', async () => {
    const slow = deferred<InvocationView>()
    const { provider, run, called, calls } = setup(
      { pipeline: { sequence: [{ function: 'slow' }, { function: 'double' }] } },
      { slow: () => slow.promise },
    )
    const controller = new AbortController()
    const result = run('pipeline', 1, { signal: controller.signal })
    const step = await called('slow')
    expect(step.signal.aborted).toBe(false)

    controller.abort()
    await expect(result).rejects.toMatchObject({ code: 'timeout' })
    expect(step.signal.aborted).toBe(true)
    // A late answer changes nothing: no further step runs.
    slow.resolve(succeeded(2))
    await slow.promise
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(calls.map((c) => c.fn)).toEqual(['slow'])
    expect(provider.trace('run-1')).toBeDefined()
  })

  it('refuses a choreography whose function was deleted since deploy, invoking nothing', async () => {
    const { provider, run, calls } = setup(
      { pipeline: { sequence: [{ function: 'inc' }, { function: 'gone' }] } },
      {},
      ['inc'],
    )
    const error = await run('pipeline', 1).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'bad-request' })
    expect((error as Error).message).toContain('choreography pipeline cannot run')
    expect((error as Error).message).toContain('/definition/sequence/1/function')
    expect((error as Error).message).toContain('"gone"')
    expect(calls).toEqual([])
    expect(provider.trace('run-1')).toBeUndefined()
  })

  it('refuses an unknown choreography', async () => {
    const { run, calls } = setup({ pipeline: { function: 'inc' } })
    await expect(run('missing', 1)).rejects.toMatchObject({
      code: 'unknown-choreography',
      message: expect.stringContaining('missing') as string,
    })
    expect(calls).toEqual([])
  })
})
