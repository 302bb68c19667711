/** Serf's `phantom.go` test fixtures, in ms: truth matrices, a simulation loop, error stats. */
import { seededRng, type Rng } from '../src/index.js'
import { VivaldiClient, type VivaldiConfig } from '../src/core/vivaldi.js'

export type Truth = number[][]

function matrix(n: number, rtt: (i: number, j: number) => number): Truth {
  const truth = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = rtt(i, j)
      ;(truth[i] as number[])[j] = v
      ;(truth[j] as number[])[i] = v
    }
  }
  return truth
}

/** Nodes on a line, `spacing` ms apart. */
export const line = (n: number, spacing: number): Truth => matrix(n, (i, j) => (j - i) * spacing)

/** Nodes on a √n × √n grid, `spacing` ms apart. */
export function grid(n: number, spacing: number): Truth {
  const side = Math.floor(Math.sqrt(n))
  return matrix(n, (i, j) => {
    const dx = (j % side) - (i % side)
    const dy = Math.floor(j / side) - Math.floor(i / side)
    return Math.sqrt(dx * dx + dy * dy) * spacing
  })
}

/** Two sites: `lan` ms within one, `lan + wan` across. */
export function split(n: number, lan: number, wan: number): Truth {
  const half = Math.floor(n / 2)
  return matrix(n, (i, j) => ((i <= half && j > half) || (i > half && j <= half) ? lan + wan : lan))
}

/** Nodes on a circle of `radius` ms; node 0 is 2·radius from everyone (it needs height). */
export function circle(n: number, radius: number): Truth {
  return matrix(n, (i, j) => {
    if (i === 0) return 2 * radius
    const a = (2 * Math.PI * i) / n
    const b = (2 * Math.PI * j) / n
    return Math.hypot(Math.cos(b) - Math.cos(a), Math.sin(b) - Math.sin(a)) * radius
  })
}

/** Normally distributed RTTs (Box–Muller on a seeded rng). */
export function random(n: number, mean: number, deviation: number, rng: Rng): Truth {
  return matrix(n, () => {
    const u = 1 - rng.next()
    const v = rng.next()
    return mean + deviation * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  })
}

export function clients(
  n: number,
  seed: number,
  config: Partial<VivaldiConfig> = {},
): VivaldiClient[] {
  return Array.from(
    { length: n },
    (_, i) => new VivaldiClient({ rng: seededRng(seed * 1000 + i) }, config),
  )
}

/** Each cycle, each client observes the true RTT to one random other client (Serf's Simulate). */
export function simulate(cs: VivaldiClient[], truth: Truth, cycles: number, seed: number): void {
  const rng = seededRng(seed)
  for (let cycle = 0; cycle < cycles; cycle++) {
    cs.forEach((c, i) => {
      const j = Math.floor(rng.next() * cs.length)
      if (j !== i)
        c.update(
          `node_${j}`,
          (cs[j] as VivaldiClient).coordinate,
          (truth[i] as number[])[j] as number,
        )
    })
  }
}

/** Mean and max relative error of the estimated RTTs over all pairs (Serf's Evaluate). */
export function evaluate(cs: VivaldiClient[], truth: Truth): { avg: number; max: number } {
  let sum = 0
  let max = 0
  let count = 0
  for (let i = 0; i < cs.length; i++) {
    for (let j = i + 1; j < cs.length; j++) {
      const est = (cs[i] as VivaldiClient).distanceTo((cs[j] as VivaldiClient).coordinate)
      const actual = (truth[i] as number[])[j] as number
      const err = Math.abs(est - actual) / actual
      sum += err
      max = Math.max(max, err)
      count++
    }
  }
  return { avg: sum / count, max }
}
