import { describe, expect, it } from 'vitest'
import { DirectoryNode } from '../../src/core/directory-node.js'
import { rendezvousRanking } from '../../src/core/rendezvous.js'

const PEERS = ['p1', 'p2', 'p3', 'p4']
const view = (live: string[], dead: string[] = []) => ({
  live,
  isAlive: (p: string) => live.includes(p) && !dead.includes(p),
})

describe('DirectoryNode', () => {
  it('claims with the GUID it is given, and answers lookups and commits', () => {
    const node = new DirectoryNode('p1', view(PEERS))
    const claimed = node.handle({ type: 'claim', key: 'a/mesh', from: 'p2', newGuid: 'g1' })
    expect(claimed).toEqual({
      answer: { created: true, entry: { key: 'a/mesh', guid: 'g1', peerId: 'p2', epoch: 1 } },
      effects: [],
    })
    expect(node.handle({ type: 'lookup', key: 'a/mesh' }).answer).toMatchObject({ peerId: 'p2' })
    const moved = node.handle({ type: 'commit', key: 'a/mesh', guid: 'g1', epoch: 1, peerId: 'p3' })
    expect(moved.answer).toMatchObject({ committed: true, entry: { peerId: 'p3', epoch: 2 } })
  })

  it('tells the displaced responsible of a conflict that it lost, naming the winner', () => {
    const node = new DirectoryNode('p1', view(PEERS))
    node.handle({ type: 'register', entry: { key: 'k', guid: 'g-b', peerId: 'p2', epoch: 1 } })
    const winner = { key: 'k', guid: 'g-a', peerId: 'p3', epoch: 1 }
    const { answer, effects } = node.handle({ type: 'register', entry: winner })
    expect(answer).toMatchObject({ accepted: true, entry: winner })
    expect(effects).toEqual([{ type: 'tell-lost', to: 'p2', winner }])
  })

  it('refuses, for now, the registration of a peer it sees dead: its key may have been claimed', () => {
    const node = new DirectoryNode('p1', view(PEERS, ['p2']))
    const key = Array.from({ length: 100 }, (_, i) => `o${i}/mesh`).find(
      (k) => rendezvousRanking(k, PEERS)[0] === 'p1',
    ) as string
    const entry = { key, guid: 'g-old', peerId: 'p2', epoch: 1 }
    const refused = node.handle({ type: 'register', entry })
    expect(refused.answer).toMatchObject({ accepted: false })
    expect('refused' in refused.answer && refused.answer.refused).toMatch(/p2 is not alive/)
    expect(node.entries()).toEqual([])
    // Claimed meanwhile; once p2's refutation arrives it registers again and loses to epoch 2.
    node.handle({ type: 'claim', key, from: 'p3', newGuid: 'g-new' })
    node.handle({ type: 'commit', key, guid: 'g-new', epoch: 1, peerId: 'p3' })
    node.membersChanged(view(PEERS))
    expect(node.handle({ type: 'register', entry }).answer).toMatchObject({
      accepted: false,
      entry: { guid: 'g-new', peerId: 'p3', epoch: 2 },
    })
  })

  it('after a pause, the registrant yields to any other live scheduler of the key', () => {
    const node = new DirectoryNode('p1', view(PEERS))
    // Made while p2 was away, at epoch 1 with a larger GUID: it would lose a plain conflict.
    node.handle({ type: 'register', entry: { key: 'k', guid: 'g-z', peerId: 'p3', epoch: 1 } })
    const paused = { key: 'k', guid: 'g-a', peerId: 'p2', epoch: 1 }
    const { answer, effects } = node.handle({ type: 'register', entry: paused, yielding: true })
    expect(answer).toEqual({
      accepted: false,
      entry: { key: 'k', guid: 'g-z', peerId: 'p3', epoch: 1 },
    })
    expect(effects).toEqual([])
    // Without yielding the smaller GUID wins, and the other is told to merge.
    expect(node.handle({ type: 'register', entry: paused }).answer).toMatchObject({
      accepted: true,
    })
  })

  it('counts a leaving peer out, and forgets the keys it is no longer the directory for', () => {
    const keys = Array.from({ length: 200 }, (_, i) => `owner-${i}/mesh`)
    const node = new DirectoryNode('p1', view(PEERS))
    for (const key of keys) {
      node.handle({ type: 'claim', key, from: 'p2', newGuid: `g-${key}` })
      const [first, second] = rendezvousRanking(key, PEERS)
      expect(node.directoryFor(key)).toBe(first)
      expect(node.directoryFor(key, first)).toBe(second)
    }
    node.membersChanged(view(['p1', 'p2', 'p3']))
    const mine = keys.filter((k) => rendezvousRanking(k, ['p1', 'p2', 'p3'])[0] === 'p1')
    expect(
      node
        .entries()
        .map((e) => e.key)
        .sort(),
    ).toEqual(mine.sort())
    expect(mine.length).toBeGreaterThan(0)
  })

  it('names its predecessors for a key it does not know, which still answers for what it handed on', () => {
    const before = ['p2', 'p3', 'p4']
    const after = [...before, 'p1']
    // A key the joiner p1 takes over: first for p1 among all, and was p2's before.
    const key = Array.from({ length: 500 }, (_, i) => `o${i}/mesh`).find((k) => {
      const [first, second] = rendezvousRanking(k, after)
      return first === 'p1' && second === 'p2'
    })
    if (key === undefined) throw new Error('no such key among 500')
    const old = new DirectoryNode('p2', view(before))
    old.handle({ type: 'claim', key, from: 'p3', newGuid: 'g1' })
    const joiner = new DirectoryNode('p1', view(after))
    expect(joiner.predecessorsFor(key)).toEqual(rendezvousRanking(key, after).slice(1))
    old.membersChanged(view(after))
    expect(old.entries()).toEqual([])
    // The successor asks and adopts what p2 still knows, instead of granting a second one.
    const known = old.handle({ type: 'lookup', key }).answer
    expect(known).toMatchObject({ guid: 'g1', peerId: 'p3' })
    if (known === undefined) throw new Error('unreachable')
    joiner.handle({ type: 'register', entry: known })
    expect(joiner.predecessorsFor(key)).toEqual([])
    expect(joiner.handle({ type: 'claim', key, from: 'p4', newGuid: 'g2' }).answer).toMatchObject({
      created: false,
      entry: { guid: 'g1' },
    })
    // Not first for the key: nobody to ask.
    expect(old.predecessorsFor(key)).toEqual([])
  })
})
