/**
 * Splits the range [from, to) into `chunks` ranges of about the same size, for a map to
 * work on side by side: `{ from: 0, to: 100, chunks: 2 }` → `[{ from: 0, to: 50 }, { from: 50, to: 100 }]`.
 */
export default async ({ from, to, chunks = 4 }) => {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from > to) {
    throw new Error(`split: expected whole numbers from <= to, got ${from} and ${to}`)
  }
  const size = Math.ceil((to - from) / chunks)
  const ranges = []
  for (let start = from; start < to; start += size) {
    ranges.push({ from: start, to: Math.min(to, start + size) })
  }
  return ranges
}
