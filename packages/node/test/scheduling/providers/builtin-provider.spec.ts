import { describe, expect, it } from 'vitest'
import { ChorusError } from '../../../src/errors.js'
import {
  BuiltinProvider,
  MAX_SLEEP_MS,
  runBuiltin,
  validateBuiltinInput,
} from '../../../src/scheduling/providers/builtin-provider.js'
import { dispatchOf } from '../dispatch-of.js'

const dispatchFor = (fn: string) => dispatchOf([null], { fn, worker: 'self' })

describe('BuiltinProvider', () => {
  const provider = new BuiltinProvider()

  it('gives the spec of echo and sleep, and none of anything else', () => {
    expect(provider.spec('acme', 'echo')).toMatchObject({ name: 'echo' })
    expect(provider.spec('acme', 'sleep')?.timeoutMs).toBeGreaterThan(MAX_SLEEP_MS)
    expect(provider.spec('acme', 'resize')).toBeUndefined()
  })

  it('is always ready, and its runs run the builtin', async () => {
    const lease = await provider.acquire('acme', dispatchFor('echo'))
    if (lease.type !== 'ready') throw new Error('busy')
    expect(await lease.run(0, 'i1', { a: 1 }, new AbortController().signal)).toEqual({ a: 1 })
  })

  it('does not run at all when the invocation was cancelled before it started', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(runBuiltin('sleep', { ms: MAX_SLEEP_MS }, controller.signal)).rejects.toThrow(
      'cancelled',
    )
  })

  it('stops a sleep when it is cancelled', async () => {
    const controller = new AbortController()
    const sleeping = runBuiltin('sleep', { ms: MAX_SLEEP_MS }, controller.signal)
    controller.abort()
    await expect(sleeping).rejects.toThrow('cancelled')
  })

  it('sleeps as long as it is asked', async () => {
    expect(await runBuiltin('sleep', { ms: 1 }, new AbortController().signal)).toEqual({
      sleptMs: 1,
    })
  })

  it('refuses an unknown function', async () => {
    await expect(runBuiltin('nope', null, new AbortController().signal)).rejects.toThrow(
      'builtin has no function nope',
    )
  })

  it.each([null, {}, { ms: -1 }, { ms: MAX_SLEEP_MS + 1 }, { ms: 'x' }, { ms: Number.NaN }])(
    'refuses the sleep input %j at the edge',
    (input) => {
      expect(() => validateBuiltinInput('sleep', input)).toThrow(ChorusError)
    },
  )
})
