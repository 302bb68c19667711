import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvocationLedger,
  LEDGER_FORMAT,
  type LedgerResult,
} from '../../src/core/invocation-ledger.js'

const ok = (id: string, output: unknown = id): LedgerResult => ({
  id,
  status: 'succeeded',
  output,
})

describe('InvocationLedger', () => {
  it('gives a key to the first invocation that claims it, and that one ever after', () => {
    const ledger = new InvocationLedger()
    expect(ledger.claimKey('k', 'i1')).toBeUndefined()
    expect(ledger.claimKey('k', 'i2')).toBe('i1')
    expect(ledger.keyOf('i1')).toBe('k')
    expect(ledger.keyOf('i2')).toBeUndefined()
  })

  it('records a result once: a second outcome for the same id changes nothing', () => {
    const ledger = new InvocationLedger()
    expect(ledger.record(ok('i1', 'first'))).toBe(true)
    expect(ledger.record({ id: 'i1', status: 'failed', error: { code: 'x', message: 'y' } })).toBe(
      false,
    )
    expect(ledger.result('i1')).toEqual(ok('i1', 'first'))
  })

  it('is bounded: past its capacity the oldest keys and results go first', () => {
    const ledger = new InvocationLedger(3)
    for (let i = 1; i <= 5; i++) {
      ledger.claimKey(`k${i}`, `i${i}`)
      ledger.record(ok(`i${i}`))
    }
    expect(ledger.size).toEqual({ keys: 3, results: 3 })
    expect(ledger.claimKey('k1', 'new')).toBeUndefined()
    expect(ledger.keyOf('i2')).toBeUndefined()
    expect(ledger.result('i2')).toBeUndefined()
    expect(ledger.claimKey('k5', 'other')).toBe('i5')
    expect(ledger.result('i5')).toEqual(ok('i5'))
  })

  it('travels whole: a restored ledger answers as the original did', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }))),
        fc.array(fc.string({ minLength: 1 })),
        (claims, finished) => {
          const original = new InvocationLedger()
          for (const [key, id] of claims) original.claimKey(key, id)
          for (const id of finished) original.record(ok(id))
          const snapshot = JSON.parse(JSON.stringify(original.snapshot())) as ReturnType<
            InvocationLedger['snapshot']
          >
          expect(snapshot.format).toBe(LEDGER_FORMAT)
          const restored = InvocationLedger.restore(snapshot)
          expect(restored.snapshot()).toEqual(original.snapshot())
          for (const [key] of claims) {
            expect(restored.claimKey(key, 'probe')).toBe(original.claimKey(key, 'probe'))
          }
          for (const id of finished) expect(restored.result(id)).toEqual(original.result(id))
        },
      ),
    )
  })

  it('absorbs another ledger of the same scheduler without replacing what it has', () => {
    const mine = new InvocationLedger()
    mine.claimKey('shared', 'mine-1')
    mine.record(ok('both', 'mine'))
    const theirs = new InvocationLedger()
    theirs.claimKey('shared', 'theirs-1')
    theirs.claimKey('only-theirs', 'theirs-2')
    theirs.record(ok('both', 'theirs'))
    theirs.record(ok('theirs-2'))
    mine.absorb(theirs.snapshot())
    expect(mine.claimKey('shared', 'x')).toBe('mine-1')
    expect(mine.claimKey('only-theirs', 'x')).toBe('theirs-2')
    expect(mine.keyOf('theirs-2')).toBe('only-theirs')
    expect(mine.result('both')).toEqual(ok('both', 'mine'))
    expect(mine.result('theirs-2')).toEqual(ok('theirs-2'))
  })
})
