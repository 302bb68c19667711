import { describe, expect, it } from 'vitest'
import { background } from '../src/background.js'
import { deferred } from './deferred.js'

describe('background', () => {
  it('hands a rejection to onFailure, once', async () => {
    const failures: unknown[] = []
    const failed = deferred<void>()
    background(Promise.reject(new Error('remote went away')), (err) => {
      failures.push(err)
      failed.resolve()
    })
    await failed.promise
    expect(failures).toHaveLength(1)
    expect((failures[0] as Error).message).toBe('remote went away')
  })

  it('hands a synchronous throw of the work to onFailure', () => {
    const failures: unknown[] = []
    background(
      () => {
        throw new Error('broken before the first await')
      },
      (err) => failures.push(err),
    )
    expect(failures).toHaveLength(1)
  })

  it('hands a throw inside an async function to onFailure', async () => {
    const failed = deferred<unknown>()
    background(
      async () => {
        await Promise.resolve()
        throw new Error('thrown after an await')
      },
      (err) => failed.resolve(err),
    )
    expect(((await failed.promise) as Error).message).toBe('thrown after an await')
  })

  it('calls nothing when the work succeeds', async () => {
    const failures: unknown[] = []
    const done = deferred<void>()
    background(
      Promise.resolve(1).then(() => done.resolve()),
      (err) => failures.push(err),
    )
    await done.promise
    await Promise.resolve()
    expect(failures).toEqual([])
  })

  it('lets nothing escape when onFailure itself throws', async () => {
    // An escape here would be an unhandled rejection, which fails the run.
    const called = deferred<void>()
    background(Promise.reject(new Error('first')), () => {
      called.resolve()
      throw new Error('the handler is broken too')
    })
    await called.promise
  })
})
