/**
 * Runs one simulation to its end and reports: the scenario sets the world up, the virtual
 * clock runs to the last simulated second, the mesh is given 5 more to go quiet, and every
 * accepted invocation is checked for its result.
 */
import { writeFileSync } from 'node:fs'
import { percentile, SimWorld, type SimOptions } from './world.js'
import {
  DELAYS_FILE,
  REAL_MEMBERSHIP_MAX,
  loadDelays,
  quantiles,
  type ChangeKind,
  type MembershipDelays,
} from './membership-model.js'
import type { ScenarioLog, ScenarioName } from './scenarios.js'

export interface SimReport {
  readonly peers: number
  readonly seed: number
  readonly scenario: ScenarioName
  readonly seconds: number
  readonly invocations: number
  readonly failedRequests: number
  readonly lostToCrash: number
  /** Invocations run by a scheduler on each side of a partition (each side acts alone). */
  readonly splitRuns: number
  /** After a heal: how long until no key had two accepting schedulers (s); null if it never healed. */
  readonly mergedAfterHealS: number | null
  readonly bytesPerPeerPerSec: { readonly mean: number; readonly max: number }
  readonly hops: { readonly mean: number; readonly p99: number }
  readonly fullViewAfterS: number | null
  readonly loadView: { readonly p99AgeMs: number; readonly medianShare: number }
  readonly membership: string
  readonly checks: number
  readonly violations: readonly {
    readonly invariant: string
    readonly step: number
    readonly at: number
    readonly message: string
    readonly recent: readonly string[]
  }[]
  readonly wallS: number
  readonly rssMiB: number
  readonly scenarioEvents: readonly string[]
  readonly replay: string
  readonly line: string
}

const QUIET_MS = 5_000

export function runSimulation(
  options: SimOptions,
  scenario: ScenarioName,
  setUp: (world: SimWorld, name: ScenarioName) => ScenarioLog,
): SimReport {
  const started = performance.now()
  const world = new SimWorld(options)
  const log = setUp(world, scenario)
  const end = options.seconds * 1000
  world.time.advanceTo(end + QUIET_MS)
  if (options.recordDelays !== undefined) recordDelays(world, options.recordDelays)
  world.checker.finish((peer) => world.network.isCrashed(peer) && !world.peer(peer)?.leaving)
  const hops = [...world.hops].sort((a, b) => a - b)
  // Time to a full view: from the last sample where some peer missed someone, after the joins.
  const lastPartial = [...world.samples].reverse().find((s) => s.fullViews < 1 && s.at <= end)
  const fullViewAt = lastPartial === undefined ? 0 : lastPartial.at + 1_000
  const measured = world.samples.filter(
    (s) => s.at >= Math.max(3_000, end - 3 * 3_000) && s.at <= end,
  )
  const ages = measured.flatMap((s) => s.viewAgesMs).sort((a, b) => a - b)
  const shares = measured.flatMap((s) => s.viewShares).sort((a, b) => a - b)
  const wallS = (performance.now() - started) / 1000
  const rssMiB = Math.round(process.resourceUsage().maxRSS / 1024)
  const violations = world.checker.violations
  const plant = options.plant === undefined ? '' : ` --plant ${options.plant}`
  const modelled =
    options.membershipDelays !== undefined && options.peers <= REAL_MEMBERSHIP_MAX
      ? ' --membership model'
      : ''
  const replay = `npm run sim -- --peers ${options.peers} --seed ${options.seed} --scenario ${scenario} --seconds ${options.seconds} --rate ${options.ratePerSec}${plant}${modelled}`
  const ok = violations.length === 0
  return {
    peers: options.peers,
    seed: options.seed,
    scenario,
    seconds: options.seconds,
    invocations: world.checker.acceptedCount,
    failedRequests: world.failedRequests,
    lostToCrash: world.checker.lostToCrash,
    splitRuns: world.checker.splitRuns,
    mergedAfterHealS: world.mergedAfterHealMs === undefined ? null : world.mergedAfterHealMs / 1000,
    bytesPerPeerPerSec: world.bytesPerPeerPerSec(),
    hops: {
      mean: hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length),
      p99: percentile(hops, 0.99),
    },
    fullViewAfterS: fullViewAt > end ? null : Math.max(0, fullViewAt - log.lastJoinAt) / 1000,
    loadView: { p99AgeMs: percentile(ages, 0.99), medianShare: percentile(shares, 0.5) },
    membership: world.model?.source ?? 'real SWIM core per peer (full membership)',
    checks: world.checker.checks,
    violations,
    wallS,
    rssMiB,
    scenarioEvents: log.events,
    replay,
    line: `sim: peers=${options.peers} seed=${options.seed} scenario=${scenario} invariants=${ok ? 'ok' : 'VIOLATED'} wall=${wallS.toFixed(1)}s rss=${rssMiB}MiB`,
  }
}

/**
 * Writes the delays this run's real cores showed (`--record-delays`) into the model's file,
 * kind by kind: those this run saw replace the file's, the others stay. `command` replays it.
 */
function recordDelays(world: SimWorld, command: string): void {
  let old: MembershipDelays | undefined
  try {
    old = loadDelays()
  } catch {
    old = undefined
  }
  const delays: Record<ChangeKind, readonly number[]> = {
    join: old?.delays.join ?? [],
    dead: old?.delays.dead ?? [],
    left: old?.delays.left ?? [],
  }
  const recordedWith: Record<ChangeKind, string> = {
    join: old?.recordedWith.join ?? '',
    dead: old?.recordedWith.dead ?? '',
    left: old?.recordedWith.left ?? '',
  }
  for (const kind of ['join', 'dead', 'left'] as const) {
    const seen = world.seenAfter[kind]
    if (seen.length === 0) continue
    delays[kind] = quantiles(seen)
    recordedWith[kind] = command
  }
  const file: MembershipDelays = { recordedWith, delays }
  writeFileSync(DELAYS_FILE, `${JSON.stringify(file, null, 2)}\n`)
}
