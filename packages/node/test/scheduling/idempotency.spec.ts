import { describe, expect, it } from 'vitest'
import { IdempotencyKeys } from '../../src/scheduling/idempotency.js'

describe('IdempotencyKeys', () => {
  it('gives a key to the first invocation and that one to every later claim', () => {
    const keys = new IdempotencyKeys()
    expect(keys.claim('acme', 'k1', 'i1')).toBeUndefined()
    expect(keys.claim('acme', 'k1', 'i2')).toBe('i1')
    expect(keys.claim('acme', 'k1', 'i3')).toBe('i1')
  })

  it('keeps the keys of different owners apart', () => {
    const keys = new IdempotencyKeys()
    expect(keys.claim('acme', 'k1', 'i1')).toBeUndefined()
    expect(keys.claim('globex', 'k1', 'i2')).toBeUndefined()
    expect(keys.claim('globex', 'k1', 'i3')).toBe('i2')
  })

  it('cannot be fooled by an owner and key that join into the same text', () => {
    const keys = new IdempotencyKeys()
    expect(keys.claim('a', 'b/c', 'i1')).toBeUndefined()
    expect(keys.claim('a/b', 'c', 'i2')).toBeUndefined()
  })

  it('forgets the oldest keys beyond its capacity', () => {
    const keys = new IdempotencyKeys(2)
    keys.claim('o', 'k1', 'i1')
    keys.claim('o', 'k2', 'i2')
    keys.claim('o', 'k3', 'i3')
    expect(keys.claim('o', 'k1', 'i4')).toBeUndefined()
    expect(keys.claim('o', 'k3', 'i5')).toBe('i3')
  })
})
