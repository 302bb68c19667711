import { describe, expect, it } from 'vitest'
import { directoryPeerFor, hash53, rendezvousRanking } from '../../src/core/rendezvous.js'

describe('rendezvous hashing', () => {
  const members = Array.from({ length: 20 }, (_, i) => `peer-${i}`)

  it('agrees with its ranking and spreads keys over the members', () => {
    const counts = new Map<string, number>()
    for (let k = 0; k < 4000; k++) {
      const key = `owner-${k}/mesh`
      const chosen = directoryPeerFor(key, members) as string
      expect(chosen).toBe(rendezvousRanking(key, members)[0])
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1)
    }
    expect(counts.size).toBe(20)
    expect(Math.max(...counts.values())).toBeLessThan(2 * (4000 / 20))
  })

  it('answers a large view the same the second time (remembered per view array)', () => {
    const large = Array.from({ length: 500 }, (_, i) => `peer-${i}`)
    const shrunk = large.slice(0, 250)
    for (let k = 0; k < 300; k++) {
      const key = `owner-${k}/mesh`
      const first = directoryPeerFor(key, large)
      expect(first).toBe(rendezvousRanking(key, large)[0])
      expect(directoryPeerFor(key, large)).toBe(first)
      // Another view (a new array) is ranked afresh, not answered from the first one's memory.
      expect(directoryPeerFor(key, shrunk)).toBe(rendezvousRanking(key, shrunk)[0])
    }
  })

  it('moves only the keys of a member that leaves', () => {
    const without = members.filter((m) => m !== 'peer-7')
    for (let k = 0; k < 2000; k++) {
      const key = `owner-${k}/mesh`
      const before = directoryPeerFor(key, members)
      if (before !== 'peer-7') expect(directoryPeerFor(key, without)).toBe(before)
    }
  })

  it('is order-independent and hashes well', () => {
    expect(directoryPeerFor('k', ['a', 'b', 'c'])).toBe(directoryPeerFor('k', ['c', 'a', 'b']))
    expect(directoryPeerFor('k', [])).toBeUndefined()
    expect(hash53('a')).not.toBe(hash53('b'))
  })
})
