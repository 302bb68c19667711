import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Deque } from '../src/index.js'

describe('Deque', () => {
  it('behaves like an array used at both ends, across growth', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('back' as const), value: fc.integer() }),
      fc.record({ kind: fc.constant('front' as const), value: fc.integer() }),
      fc.record({ kind: fc.constant('pop' as const) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const deque = new Deque<number>()
        const model: number[] = []
        for (const o of ops) {
          if (o.kind === 'back') {
            deque.pushBack(o.value)
            model.push(o.value)
          } else if (o.kind === 'front') {
            deque.pushFront(o.value)
            model.unshift(o.value)
          } else {
            expect(deque.popFront()).toBe(model.shift())
          }
          expect(deque.length).toBe(model.length)
          expect(deque.peekFront()).toBe(model[0])
        }
        expect([...deque]).toEqual(model)
      }),
    )
  })
})
