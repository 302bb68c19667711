import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DirectoryTable, survivor, type DirectoryEntry } from '../../src/core/directory-table.js'
import { rendezvousRanking } from '../../src/core/rendezvous.js'

const alive = () => true

describe('DirectoryTable', () => {
  it('claim-if-absent: the first claimant becomes responsible, later ones learn it', () => {
    const t = new DirectoryTable()
    const first = t.claim('acme/mesh', 'p1', 'g1', alive)
    expect(first).toEqual({
      created: true,
      entry: { key: 'acme/mesh', guid: 'g1', peerId: 'p1', epoch: 1 },
    })
    expect(t.claim('acme/mesh', 'p2', 'g2', alive)).toEqual({ created: false, entry: first.entry })
  })

  it('re-creates at the next epoch when the responsible is dead', () => {
    const t = new DirectoryTable()
    t.claim('k', 'p1', 'g1', alive)
    const again = t.claim('k', 'p2', 'g2', (p) => p !== 'p1')
    expect(again).toEqual({
      created: true,
      entry: { key: 'k', guid: 'g2', peerId: 'p2', epoch: 2 },
    })
  })

  it('release removes only the entry it names', () => {
    const t = new DirectoryTable()
    t.claim('k', 'p1', 'g1', alive)
    expect(t.release('k', 'g-other', 1)).toBe(false)
    expect(t.release('k', 'g1', 2)).toBe(false)
    expect(t.release('k', 'g1', 1)).toBe(true)
    expect(t.lookup('k')).toBeUndefined()
  })

  it('register accepts the same scheduler again and settles conflicts deterministically', () => {
    const t = new DirectoryTable()
    const a: DirectoryEntry = { key: 'k', guid: 'g-b', peerId: 'p1', epoch: 1 }
    const b: DirectoryEntry = { key: 'k', guid: 'g-a', peerId: 'p2', epoch: 1 }
    expect(t.register(a, alive)).toEqual({ accepted: true, entry: a })
    expect(t.register(a, alive)).toEqual({ accepted: true, entry: a })
    // Same epoch: the smaller GUID wins, whichever registers first.
    expect(t.register(b, alive)).toEqual({ accepted: true, entry: b, displaced: a })
    expect(t.register(a, alive)).toEqual({ accepted: false, entry: b })
    // A higher epoch beats a smaller GUID; a live one beats a dead one.
    const newer: DirectoryEntry = { key: 'k', guid: 'g-z', peerId: 'p3', epoch: 2 }
    expect(t.register(newer, alive)).toMatchObject({ accepted: true, entry: newer })
    expect(t.register(b, (p) => p !== 'p3')).toMatchObject({
      accepted: true,
      entry: b,
      displaced: newer,
    })
  })

  it('survivor settles a GUID tie on two peers the same way from both sides', () => {
    const a: DirectoryEntry = { key: 'k', guid: 'g', peerId: 'p2', epoch: 1 }
    const b: DirectoryEntry = { key: 'k', guid: 'g', peerId: 'p1', epoch: 1 }
    expect(survivor(a, b, alive)).toBe(b)
    expect(survivor(b, a, alive)).toBe(b)
  })

  it('survivor is a total order every peer agrees on', () => {
    const entry = fc.record({
      key: fc.constant('k'),
      guid: fc.string({ minLength: 1, maxLength: 4 }),
      peerId: fc.constantFrom('p1', 'p2', 'p3'),
      epoch: fc.integer({ min: 1, max: 3 }),
    })
    fc.assert(
      fc.property(entry, entry, fc.subarray(['p1', 'p2', 'p3']), (a, b, dead) => {
        const isAlive = (p: string) => !dead.includes(p)
        expect(survivor(a, b, isAlive)).toEqual(survivor(b, a, isAlive))
      }),
    )
  })
})

describe('DirectoryTable.commit: ownership moves only by compare-and-swap on (guid, epoch)', () => {
  const claimed = () => {
    const t = new DirectoryTable()
    t.claim('acme/mesh', 'p1', 'g1', alive)
    return t
  }

  it('moves the scheduler, keeping its GUID, to the next epoch', () => {
    const t = claimed()
    expect(t.commit('acme/mesh', 'g1', 1, 'p2')).toEqual({
      committed: true,
      entry: { key: 'acme/mesh', guid: 'g1', peerId: 'p2', epoch: 2 },
    })
    expect(t.lookup('acme/mesh')).toEqual({ key: 'acme/mesh', guid: 'g1', peerId: 'p2', epoch: 2 })
  })

  it('refuses a stale epoch or another GUID and says where the scheduler is', () => {
    const t = claimed()
    t.commit('acme/mesh', 'g1', 1, 'p2')
    const current = { key: 'acme/mesh', guid: 'g1', peerId: 'p2', epoch: 2 }
    expect(t.commit('acme/mesh', 'g1', 1, 'p3')).toEqual({ committed: false, entry: current })
    expect(t.commit('acme/mesh', 'g9', 2, 'p3')).toEqual({ committed: false, entry: current })
    expect(t.lookup('acme/mesh')).toEqual(current)
  })

  it('commits a key it has no entry for (a directory that moved, not yet re-registered)', () => {
    const t = new DirectoryTable()
    expect(t.commit('acme/mesh', 'g1', 4, 'p2')).toMatchObject({
      committed: true,
      entry: { guid: 'g1', peerId: 'p2', epoch: 5 },
    })
  })

  it('lets exactly one of any concurrent moves from the same (guid, epoch) commit', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 8 }),
        (peers) => {
          const t = claimed()
          const outcomes = peers.map((p) => t.commit('acme/mesh', 'g1', 1, p))
          const winners = outcomes.filter((o) => o.committed)
          expect(winners).toHaveLength(1)
          expect(t.lookup('acme/mesh')).toEqual(winners[0]?.entry)
          for (const o of outcomes) if (!o.committed) expect(o.entry).toEqual(winners[0]?.entry)
        },
      ),
    )
  })
})

describe('lookup-or-become under any interleaving (fast-check scheduler)', () => {
  /**
   * Peers race to route the first request for one key. Each asks the directory peer of
   * its membership view to claim; messages are delivered in an order fast-check picks.
   * Whoever the directory names creates the scheduler. With one view, exactly one ever
   * does; with split views (mid-join), the responsibles re-register and all but one
   * learn they lost.
   */
  it('ends with exactly one responsible', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 6 }),
        fc.boolean(),
        async (s, peerCount, splitViews) => {
          const peers = Array.from({ length: peerCount }, (_, i) => `p${i}`)
          const tables = new Map(peers.map((p) => [p, new DirectoryTable()]))
          const key = 'race/mesh'
          // With split views, the first half of the peers believe in a different directory.
          const ranking = rendezvousRanking(key, peers)
          const directoryOf = (p: string) =>
            splitViews && peers.indexOf(p) < peerCount / 2
              ? (ranking[1] as string)
              : (ranking[0] as string)
          const created: DirectoryEntry[] = []
          let nextGuid = 0
          const deliver = <T>(label: string, f: () => T) =>
            s.schedule(Promise.resolve(label)).then(f)

          const route = async (peer: string) => {
            const directory = directoryOf(peer)
            const entry = await deliver(
              `claim ${peer}→${directory}`,
              () =>
                (tables.get(directory) as DirectoryTable).claim(key, peer, `g${nextGuid++}`, alive)
                  .entry,
            )
            await deliver(`answer ${directory}→${peer}`, () => {
              if (entry.peerId === peer && !created.some((c) => c.guid === entry.guid))
                created.push(entry)
            })
            return entry
          }
          const answers = await s.waitFor(Promise.all(peers.map(route)))

          // Reconcile: every responsible registers with the directory of the agreed view.
          const agreed = tables.get(ranking[0] as string) as DirectoryTable
          const losers = new Set<string>()
          for (const entry of created) {
            const outcome = agreed.register(entry, alive)
            if (!outcome.accepted) losers.add(entry.guid)
            if (outcome.accepted && outcome.displaced) losers.add(outcome.displaced.guid)
          }
          const surviving = created.filter((c) => !losers.has(c.guid))
          expect(surviving).toHaveLength(1)
          if (!splitViews) {
            expect(created).toHaveLength(1)
            expect(new Set(answers.map((a) => a.guid)).size).toBe(1)
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
