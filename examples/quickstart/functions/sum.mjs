/** Totals the `count`s of the map's chunks: `[{ count: 2 }, { count: 3 }]` → `{ primes: 5 }`. */
export default async (chunks) => ({
  primes: chunks.reduce((total, chunk) => total + chunk.count, 0),
})
