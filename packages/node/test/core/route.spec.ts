import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { DirectoryEntry } from '../../src/core/directory-table.js'
import { LocationCache } from '../../src/core/location-cache.js'
import { Route, RETRYABLE_CODES, type RouteStep } from '../../src/core/route.js'

const KEY = 'acme/mesh'
const at = (peerId: string, epoch = 1, guid = 'g1'): DirectoryEntry => ({
  key: KEY,
  guid,
  peerId,
  epoch,
})
const away = { hostsKey: false }

function route(cache = new LocationCache(), attempts = 10) {
  return { cache, r: new Route(KEY, 'me', cache, { attempts }) }
}

describe('Route', () => {
  it('serves here when this peer hosts the key', () => {
    const { r } = route()
    expect(r.handle({ type: 'begin' }, 0, { hostsKey: true })).toEqual({ type: 'serve-here' })
  })

  it('asks the directory, forwards with the epoch it names, and remembers where it went', () => {
    const { r, cache } = route()
    expect(r.handle({ type: 'begin' }, 0, away)).toEqual({ type: 'ask-directory' })
    expect(r.handle({ type: 'directory-answered', entry: at('p2', 3) }, 1, away)).toEqual({
      type: 'forward',
      entry: at('p2', 3),
    })
    expect(cache.get(KEY, 1)).toBeUndefined()
    expect(r.handle({ type: 'forwarded', final: true }, 2, away)).toEqual({ type: 'done' })
    expect(cache.get(KEY, 2)).toEqual(at('p2', 3))
    // The next route goes straight there.
    const next = new Route(KEY, 'me', cache, { attempts: 10 })
    expect(next.handle({ type: 'begin' }, 3, away)).toEqual({ type: 'forward', entry: at('p2', 3) })
  })

  it('becomes responsible when the directory names this peer, then serves here', () => {
    const { r } = route()
    r.handle({ type: 'begin' }, 0, away)
    expect(r.handle({ type: 'directory-answered', entry: at('me') }, 1, away)).toEqual({
      type: 'become',
      entry: at('me'),
    })
    expect(r.handle({ type: 'created' }, 1, { hostsKey: true })).toEqual({ type: 'serve-here' })
  })

  it('on a stale epoch forgets the location, backs off, and asks the directory again', () => {
    const cache = new LocationCache()
    cache.learn(at('p2', 1), 0)
    const { r } = route(cache)
    expect(r.handle({ type: 'begin' }, 0, away)).toEqual({ type: 'forward', entry: at('p2', 1) })
    const step = r.handle(
      { type: 'forward-failed', error: { code: 'stale-epoch', message: 'now 2' } },
      10,
      away,
    )
    expect(step).toEqual({ type: 'back-off', until: 20 })
    expect(cache.get(KEY, 10)).toBeUndefined()
    expect(r.handle({ type: 'backed-off' }, 20, away)).toEqual({ type: 'ask-directory' })
  })

  it('ends at once on a refusal that is not about where the responsible is', () => {
    const { r } = route()
    r.handle({ type: 'begin' }, 0, away)
    r.handle({ type: 'directory-answered', entry: at('p2') }, 0, away)
    const error = { code: 'unknown-function', message: 'no f' }
    expect(r.handle({ type: 'forward-failed', error }, 1, away)).toEqual({
      type: 'give-up',
      error,
    })
  })

  it('gives up as peer-unreachable after its rounds, whatever keeps failing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.constantFrom(...RETRYABLE_CODES), { minLength: 30, maxLength: 30 }),
        (attempts, codes) => {
          const { r } = route(new LocationCache(), attempts)
          let step: RouteStep = r.handle({ type: 'begin' }, 0, away)
          let now = 0
          let rounds = 0
          for (const code of codes) {
            if (step.type === 'give-up') break
            if (step.type === 'back-off') {
              expect(step.until).toBeGreaterThan(now)
              expect(step.until - now).toBeLessThanOrEqual(200)
              now = step.until
              step = r.handle({ type: 'backed-off' }, now, away)
              continue
            }
            expect(step.type).toBe('ask-directory')
            rounds++
            step = r.handle({ type: 'directory-failed', error: { code, message: code } }, now, away)
          }
          expect(step).toMatchObject({ type: 'give-up', error: { code: 'peer-unreachable' } })
          expect(rounds).toBe(attempts)
        },
      ),
    )
  })

  it('follows a wait the responsible handed off, and counts a creation that did not hold', () => {
    const { r } = route(new LocationCache(), 2)
    r.handle({ type: 'begin' }, 0, away)
    r.handle({ type: 'directory-answered', entry: at('p2') }, 0, away)
    expect(r.handle({ type: 'forwarded', final: false }, 1, away)).toMatchObject({
      type: 'back-off',
    })
    r.handle({ type: 'backed-off' }, 50, away)
    r.handle({ type: 'directory-answered', entry: at('me') }, 50, away)
    expect(r.handle({ type: 'created' }, 50, away)).toMatchObject({
      type: 'give-up',
      error: { code: 'peer-unreachable' },
    })
  })
})

describe('LocationCache', () => {
  it('expires entries, keeps the newer epoch of a scheduler, and is bounded', () => {
    const cache = new LocationCache(100, 2)
    cache.learn(at('p2', 2), 0)
    cache.learn(at('p1', 1), 10) // an older epoch of the same scheduler: ignored
    expect(cache.get(KEY, 50)).toEqual(at('p2', 2))
    cache.learn(at('p3', 1, 'g2'), 60) // another scheduler for the key replaces it
    expect(cache.get(KEY, 60)).toEqual(at('p3', 1, 'g2'))
    expect(cache.get(KEY, 160)).toBeUndefined()
    for (const k of ['a', 'b', 'c']) cache.learn({ ...at('p1'), key: k }, 200)
    expect(cache.size).toBe(2)
    expect(cache.get('a', 200)).toBeUndefined()
    cache.retainLive((p) => p !== 'p1')
    expect(cache.size).toBe(0)
  })
})
