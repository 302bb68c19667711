/**
 * CPU-bound: counts the primes in [from, to) by trial division, on purpose the slow way.
 * The context says how long the run has left before the peer stops it.
 */
export default async ({ from, to }, context) => {
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    if (isPrime(n)) count++
    if (n % 100_000 === 0 && context.remainingMs() < 100) {
      throw new Error(`primes: out of time at ${n} (of ${from}..${to})`)
    }
  }
  return { from, to, count }
}

function isPrime(n) {
  if (n < 4) return n > 1
  if (n % 2 === 0) return false
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}
