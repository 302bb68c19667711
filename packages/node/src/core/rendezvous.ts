/**
 * Rendezvous (highest-random-weight) hashing: every peer with the same membership view
 * picks the same directory peer for a key, and a membership change moves only the keys
 * of the peers that came or went. Pure: no I/O.
 */

/** cyrb53: a fast, well-mixed 53-bit string hash. */
export function hash53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** The members ranked for `key`, best first (ties broken by peer id). */
export function rendezvousRanking(key: string, members: readonly string[]): string[] {
  return members
    .map((peer) => ({ peer, weight: hash53(`${key}\u0000${peer}`) }))
    .sort((a, b) => b.weight - a.weight || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0))
    .map((r) => r.peer)
}

/**
 * Answers already computed per members array: a view is one array until it changes, and a
 * peer asks for the same keys again and again (each is O(members) to rank). Small views are
 * ranked afresh: cheaper than remembering. So a members array must not change once asked about
 * (views here are replaced, never edited in place).
 */
const REMEMBER_FROM = 64
const remembered = new WeakMap<readonly string[], Map<string, string | undefined>>()

/** The directory peer for `key` among `members`, or undefined if there are none. */
export function directoryPeerFor(key: string, members: readonly string[]): string | undefined {
  if (members.length < REMEMBER_FROM) return rankFirst(key, members)
  let answers = remembered.get(members)
  if (answers === undefined) {
    answers = new Map()
    remembered.set(members, answers)
  }
  if (answers.has(key)) return answers.get(key)
  const best = rankFirst(key, members)
  answers.set(key, best)
  return best
}

function rankFirst(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined
  let bestWeight = -1
  for (const peer of members) {
    const weight = hash53(`${key}\u0000${peer}`)
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && peer < best)) {
      best = peer
      bestWeight = weight
    }
  }
  return best
}

/** The first `n` of `rendezvousRanking(key, members)`, without sorting them all. */
export function topRankedFor(key: string, members: readonly string[], n: number): string[] {
  const top: { peer: string; weight: number }[] = []
  for (const peer of members) {
    const ranked = { peer, weight: hash53(`${key}\u0000${peer}`) }
    let at = top.length
    while (at > 0 && outranks(ranked, top[at - 1] as { peer: string; weight: number })) at--
    if (at < n) {
      top.splice(at, 0, ranked)
      if (top.length > n) top.pop()
    }
  }
  return top.map((r) => r.peer)
}

function outranks(
  a: { peer: string; weight: number },
  b: { peer: string; weight: number },
): boolean {
  return a.weight > b.weight || (a.weight === b.weight && a.peer < b.peer)
}
