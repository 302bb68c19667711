import { expect } from 'vitest'
import {
  OwnerScheduler,
  type FunctionSpec,
  type OwnerSchedulerConfig,
  type SchedulerEffect,
} from '../src/index.js'
import { effectsOf, seededRng } from '../src/testing.js'

export { effectsOf }

/** A scheduler for owner `acme` with the given workers (id → MB) and functions, at time 0. */
export function makeScheduler(
  options: Partial<OwnerSchedulerConfig> & {
    workers?: Record<string, number>
    functions?: FunctionSpec[]
    seed?: number
  } = {},
): OwnerScheduler {
  const {
    workers = { w1: 1024 },
    functions = [{ name: 'f', memoryMb: 256 }],
    seed = 1,
    ...config
  } = options
  const s = new OwnerScheduler(
    { owner: 'acme', provider: 'mesh', capacity: 10, ...config },
    { rng: seededRng(seed) },
  )
  for (const [workerId, memoryMb] of Object.entries(workers)) {
    expect(s.handle({ type: 'worker-joined', workerId, memoryMb }, 0)).toEqual([])
  }
  for (const spec of functions) {
    expect(s.handle({ type: 'function-registered', spec }, 0)).toEqual([])
  }
  return s
}

export function submit(
  s: OwnerScheduler,
  now: number,
  id: string,
  extra: {
    fn?: string
    priority?: 0 | 1
    preemptible?: boolean
    queueTimeoutMs?: number
    input?: unknown
    forwarded?: boolean
  } = {},
): SchedulerEffect[] {
  return s.handle(
    { type: 'invocation-submitted', invocation: { id, fn: extra.fn ?? 'f', ...extra } },
    now,
  )
}

export function complete(
  s: OwnerScheduler,
  now: number,
  id: string,
  attempt = 1,
  output: unknown = null,
): SchedulerEffect[] {
  return s.handle({ type: 'invocation-completed', invocationId: id, attempt, output }, now)
}

/** Ids of the invocations dispatched by these effects, in order. */
export function dispatchedIds(effects: readonly SchedulerEffect[]): string[] {
  return effectsOf(effects, 'dispatch').flatMap((d) => d.invocations.map((i) => i.id))
}

/** The single dispatch in these effects. */
export function onlyDispatch(effects: readonly SchedulerEffect[]) {
  const dispatches = effectsOf(effects, 'dispatch')
  expect(dispatches).toHaveLength(1)
  return dispatches[0] as (typeof dispatches)[number]
}
