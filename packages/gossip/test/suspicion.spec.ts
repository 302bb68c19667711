import { describe, expect, it } from 'vitest'
import {
  TransmitQueue,
  expectedConfirmations,
  retransmitLimit,
  suspicionTimeout,
} from '../src/index.js'
import { confirmSuspicion, startSuspicion } from '../src/core/suspicion.js'
import { alive, suspect } from './helpers.js'

describe('suspicionTimeout (Lifeguard)', () => {
  it('starts at max and reaches min after k confirmations, logarithmically', () => {
    const t = (c: number) => suspicionTimeout(c, 3, 1000, 5000)
    expect([t(0), t(1), t(2), t(3), t(4)]).toEqual([5000, 3000, 1830, 1000, 1000])
  })

  it('is the minimum at once when no confirmation can be expected', () => {
    expect(suspicionTimeout(0, 0, 1000, 5000)).toBe(1000)
  })

  it('expects at most the members other than the suspect and its accuser', () => {
    expect([2, 3, 4, 5, 20].map((n) => expectedConfirmations(3, n))).toEqual([0, 1, 2, 3, 3])
  })

  it('counts each confirmer once, never the accuser, and no more than expected', () => {
    const s = startSuspicion('a', 100, 2, 1000, 5000)
    expect(s.deadline).toBe(5100)
    expect(confirmSuspicion(s, 'a', 1000, 5000)).toBe(false)
    expect(confirmSuspicion(s, 'b', 1000, 5000)).toBe(true)
    expect(s.deadline).toBe(100 + suspicionTimeout(1, 2, 1000, 5000))
    expect(confirmSuspicion(s, 'b', 1000, 5000)).toBe(false)
    expect(confirmSuspicion(s, 'c', 1000, 5000)).toBe(true)
    expect(s.deadline).toBe(1100)
    expect(confirmSuspicion(s, 'd', 1000, 5000)).toBe(false)
  })
})

describe('TransmitQueue', () => {
  it('sends each update λ·⌈log10(n + 1)⌉ times', () => {
    expect([1, 9, 10, 20, 99, 100, 1000].map((n) => retransmitLimit(4, n))).toEqual([
      4, 4, 8, 8, 8, 12, 16,
    ])
    const q = new TransmitQueue()
    q.enqueue(alive('x', 1))
    const sent = Array.from({ length: 10 }, () => q.take(8, 3).length)
    expect(sent).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
  })

  it('keeps only the latest update per member, least-sent and newest first', () => {
    const q = new TransmitQueue()
    q.enqueue(alive('x', 1))
    q.enqueue(alive('y', 1))
    expect(q.take(1, 10)).toEqual([alive('y', 1)])
    q.enqueue(suspect('x', 1, 'z'))
    expect(q.size).toBe(2)
    expect(q.take(2, 10)).toEqual([suspect('x', 1, 'z'), alive('y', 1)])
    expect(q.take(1, 10, 'x')).toEqual([alive('y', 1)])
  })
})
