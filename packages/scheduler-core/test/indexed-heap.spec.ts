import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IndexedHeap } from '../src/index.js'

interface Item {
  key: number
  readonly id: number
}

describe('IndexedHeap', () => {
  it('pops in key order under any mix of push, pop, remove and re-key', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), key: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant('rekey' as const),
        pick: fc.nat(),
        key: fc.integer({ min: -50, max: 50 }),
      }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new IndexedHeap<Item>(
          (a, b) => a.key < b.key || (a.key === b.key && a.id < b.id),
        )
        const model: Item[] = []
        const byOrder = (a: Item, b: Item) => a.key - b.key || a.id - b.id
        let nextId = 0
        for (const o of ops) {
          if (o.kind === 'push') {
            const item = { key: o.key, id: nextId++ }
            heap.push(item)
            model.push(item)
          } else if (o.kind === 'pop') {
            model.sort(byOrder)
            expect(heap.pop()).toBe(model.shift())
          } else if (model.length > 0) {
            const item = model[o.pick % model.length] as Item
            if (o.kind === 'remove') {
              expect(heap.remove(item)).toBe(true)
              expect(heap.remove(item)).toBe(false)
              model.splice(model.indexOf(item), 1)
            } else {
              item.key = o.key
              heap.update(item)
            }
          }
          expect(heap.size).toBe(model.length)
          expect(heap.peek()).toBe([...model].sort(byOrder)[0])
        }
      }),
    )
  })

  it('refuses an item twice', () => {
    const heap = new IndexedHeap<Item>((a, b) => a.key < b.key)
    const item = { key: 1, id: 1 }
    heap.push(item)
    expect(() => heap.push(item)).toThrow(/already/)
  })
})
