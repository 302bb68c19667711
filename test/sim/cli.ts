/**
 * `npm run sim -- --peers N --seed S --scenario NAME [--seconds T] [--json] [--plant BUG]`:
 * runs N simulated peers' real pure cores on a virtual clock (see docs/simulation.md), checks
 * the invariants as they act, prints a table, and ends with one line:
 * `sim: peers=N seed=S scenario=NAME invariants=ok|VIOLATED wall=Xs rss=YMiB`.
 * Exits 1 when an invariant was violated, 2 on bad arguments.
 */
import { parseArgs } from 'node:util'
import { SCENARIOS, setUpScenario, type ScenarioName } from './scenarios.js'
import { runSimulation, type SimReport } from './run.js'
import { PLANTS, type Plant } from './world.js'
import { REAL_MEMBERSHIP_MAX, loadDelays } from './membership-model.js'

const MAX_PEERS = 20_000
/** Scenarios whose faults only the real core reacts to (a pause, a cut): no model for them. */
const REAL_ONLY = ['stall', 'partition-heal']

const USAGE = `usage: npm run sim -- --peers N --seed S --scenario NAME [--seconds T] [--json] [--plant BUG]
  --peers N       simulated peers (2 to ${MAX_PEERS}); default 100
  --membership M  real (the SWIM core in every peer, up to ${REAL_MEMBERSHIP_MAX} peers) or model
                  (views from the delays the real core showed; steady, mass-join, crash and
                  churn only); default real up to ${REAL_MEMBERSHIP_MAX} peers, model above
  --record-delays write the delays this run's real cores showed into membership-delays.json
  --seed S        the seed: the same arguments replay the same run; default 1
  --scenario NAME ${SCENARIOS.join(' | ')}; default steady
  --seconds T     simulated seconds; default 60
  --rate R        client requests per simulated second, mesh-wide; default 2 per peer
  --json          print the report as JSON instead of the table
  --plant BUG     run with a planted bug, to see it caught: ${PLANTS.join(' | ')}`

/**
 * Each owner's limit: 10, or more where the hottest owner's Zipf share of the requests would
 * keep more than 2/3 of its limit busy (20 ms each) — at 10,000 peers it gets 2,500 a second,
 * which no limit of 10 serves, and a queue that only grows tests nothing.
 */
export function ownerLimitFor(owners: number, ratePerSec: number): number {
  let harmonic = 0
  for (let i = 1; i <= owners; i++) harmonic += 1 / i ** 1.1
  const hottestPerSec = ratePerSec / harmonic
  return Math.max(10, Math.ceil((1.5 * hottestPerSec * 20) / 1000))
}

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function integer(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max)
    fail(`--${name} must be an integer from ${min} to ${max}, got ${value}`)
  return n
}

function main(): void {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        peers: { type: 'string' },
        seed: { type: 'string' },
        scenario: { type: 'string' },
        seconds: { type: 'string' },
        rate: { type: 'string' },
        json: { type: 'boolean' },
        plant: { type: 'string' },
        membership: { type: 'string' },
        'record-delays': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err))
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const peers = integer(values.peers, 'peers', 2, MAX_PEERS, 100)
  const scenario = (values.scenario ?? 'steady') as ScenarioName
  if (!SCENARIOS.includes(scenario)) fail(`unknown scenario ${scenario}`)
  const plant = values.plant as Plant | undefined
  if (plant !== undefined && !PLANTS.includes(plant)) fail(`unknown planted bug ${plant}`)
  const membership = values.membership ?? (peers > REAL_MEMBERSHIP_MAX ? 'model' : 'real')
  if (membership !== 'real' && membership !== 'model')
    fail(`--membership is real or model, not ${membership}`)
  if (membership === 'real' && peers > REAL_MEMBERSHIP_MAX)
    fail(
      `the real membership core runs up to ${REAL_MEMBERSHIP_MAX} peers here (N² member records); above, --membership model`,
    )
  if (membership === 'model' && REAL_ONLY.includes(scenario))
    fail(
      `${scenario} needs the real membership core (the model has no suspicion): --membership real, at most ${REAL_MEMBERSHIP_MAX} peers`,
    )
  if (membership === 'model' && values['record-delays'] === true)
    fail('--record-delays records what the real core shows: not with --membership model')
  const seed = integer(values.seed, 'seed', 0, 2 ** 32 - 1, 1)
  const seconds = integer(values.seconds, 'seconds', 5, 3_600, 60)
  const ratePerSec = integer(values.rate, 'rate', 0, 1_000_000, 2 * peers)
  const owners = Math.max(50, peers)
  const report = runSimulation(
    {
      peers,
      seed,
      seconds,
      ratePerSec,
      membershipDelays: membership === 'model' ? loadDelays() : undefined,
      recordDelays:
        values['record-delays'] === true
          ? `npm run sim -- --peers ${peers} --seed ${seed} --scenario ${scenario} --seconds ${seconds} --rate ${ratePerSec} --record-delays`
          : undefined,
      owners,
      ownerLimit: ownerLimitFor(owners, ratePerSec),
      serviceMeanMs: 20,
      retryShare: 0.05,
      plant,
    },
    scenario,
    setUpScenario,
  )
  process.stdout.write(
    values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
  )
  process.stdout.write(`${report.line}\n`)
  if (report.violations.length > 0) process.exitCode = 1
}

export function formatReport(r: SimReport): string {
  const rows: [string, string][] = [
    ['peers', String(r.peers)],
    ['simulated seconds', String(r.seconds)],
    ['invocations accepted', String(r.invocations)],
    ['client requests that failed (then retried)', String(r.failedRequests)],
    ['lost with a crashed peer (no replication yet)', String(r.lostToCrash)],
    ['run on both sides of a partition (then merged)', String(r.splitRuns)],
    [
      'duplicate schedulers merged (s after the heal)',
      r.mergedAfterHealS === null ? '—' : r.mergedAfterHealS.toFixed(1),
    ],
    [
      'gossip + SWIM bytes/s received per peer (mean / max)',
      `${r.bytesPerPeerPerSec.mean.toFixed(0)} / ${r.bytesPerPeerPerSec.max.toFixed(0)}`,
    ],
    ['lookup hops per request (mean / p99)', `${r.hops.mean.toFixed(2)} / ${r.hops.p99}`],
    [
      'time to a full view (s after the last join)',
      r.fullViewAfterS === null ? 'never' : r.fullViewAfterS.toFixed(1),
    ],
    [
      'load view: p99 entry age (s) / share of live peers (median)',
      `${(r.loadView.p99AgeMs / 1000).toFixed(1)} / ${(r.loadView.medianShare * 100).toFixed(1)}%`,
    ],
    ['membership', r.membership],
    ['invariant checks', String(r.checks)],
    ['wall time (s)', r.wallS.toFixed(1)],
    ['peak RSS (MiB)', String(r.rssMiB)],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)
  for (const v of r.violations) {
    lines.push(
      '',
      `VIOLATED ${v.invariant} at step ${v.step} (${(v.at / 1000).toFixed(3)}s): ${v.message}`,
    )
    lines.push(...v.recent.map((e) => `  ${e}`))
  }
  if (r.violations.length > 0) lines.push('', `replay: ${r.replay}`)
  for (const e of r.scenarioEvents) lines.push(`# ${e}`)
  return `${lines.join('\n')}\n`
}

main()
