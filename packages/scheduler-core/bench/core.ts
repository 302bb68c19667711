/**
 * Micro-benchmark of the scheduler core, on one core, in one process.
 *
 * Measures:
 *  1. Placement decisions per second through `scheduler.decidePlacement(fn)` (the real,
 *     non-mutating decision path) at 10, 100 and 1,000 workers, for the `warm-bounded`
 *     and `openwhisk` policies, in two situations:
 *       - home free: idle workers; the function has no host yet and its home worker has room,
 *                    so the (cold) walk stops at its first probe;
 *       - all full:  every worker's memory is held by a busy host of another function, so the
 *                    walk exhausts its probes and the decision falls back (overloaded: true).
 *  2. Submit+dispatch operations per second with the capacity all in use and a deep queue:
 *     each operation completes one running invocation (which dispatches the next queued
 *     one) and submits a new one, so the queue depth stays constant (100,000, and ~100 for
 *     comparison). An operation is two `handle` calls, and includes building the two event
 *     objects and the new invocation id. The clock stays at 0, so no deadline fires.
 *
 * Each situation is checked before it is timed, and the benchmark throws if it is not what
 * it claims. Each figure is the median of several timed repetitions after a warm-up.
 * The library is imported from its TypeScript source (tsx, `chorus-source` condition); the
 * header says whether tsx's keepNames wrappers are in it, as they slow named closures.
 *
 * Run: npm run bench:core
 */
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import {
  OwnerScheduler,
  homeAndStep,
  invocationHash,
  pairwiseCoprimeNumbersUntil,
  placeWarmBounded,
  seededRng,
  type PlacementPolicy,
  type SchedulerEffect,
  type SchedulerEvent,
} from '@chorus/scheduler-core'

const OWNER = 'bench'
const PROVIDER = 'local'
const TARGET_FN = 'target'
const FILLER_FN = 'filler'
const WORKER_COUNTS = [10, 100, 1_000] as const
const POLICIES: readonly PlacementPolicy[] = ['warm-bounded', 'openwhisk']
const DECISION_TARGET_PER_SEC = 1_000_000
const TARGET_WORKERS = 100

/** Warm-up and timed repetitions of one measurement; each figure is the median repetition. */
interface Timing {
  readonly warmupMs: number
  readonly repetitionMs: number
  readonly repetitions: number
}

const DECISION_TIMING: Timing = { warmupMs: 200, repetitionMs: 200, repetitions: 7 }
/** Longer: an operation allocates, and at 100,000 queued the old generation is large. */
const QUEUE_TIMING: Timing = { warmupMs: 500, repetitionMs: 400, repetitions: 7 }
/** Operations between two reads of the clock. */
const BATCH = 1_000

/** Runs `ops` operations; throws if one of them did not do what the benchmark claims. */
type Operation = (ops: number) => void

/** Median, lowest and highest rate of the repetitions, in operations per second. */
interface Rate {
  readonly median: number
  readonly min: number
  readonly max: number
}

// ---------------------------------------------------------------- timing

/** Runs `operation` in batches for at least `ms` and returns operations per second. */
function runFor(operation: Operation, ms: number): number {
  let ops = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    operation(BATCH)
    ops += BATCH
    elapsed = performance.now() - start
  }
  return (ops / elapsed) * 1000
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  const upper = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2
}

/** Rate over the repetitions, after a warm-up. */
function measure(operation: Operation, timing: Timing): Rate {
  runFor(operation, timing.warmupMs)
  const rates: number[] = []
  for (let i = 0; i < timing.repetitions; i++) rates.push(runFor(operation, timing.repetitionMs))
  rates.sort((a, b) => a - b)
  return {
    median: median(rates),
    min: rates[0] ?? Number.NaN,
    max: rates[rates.length - 1] ?? Number.NaN,
  }
}

// ---------------------------------------------------------------- scheduler setup

function newScheduler(policy: PlacementPolicy, capacity: number): OwnerScheduler {
  return new OwnerScheduler(
    { owner: OWNER, provider: PROVIDER, capacity, placement: policy },
    { rng: seededRng(1) },
  )
}

/** Handles a setup event and throws if the scheduler rejected it. */
function apply(scheduler: OwnerScheduler, event: SchedulerEvent): SchedulerEffect[] {
  const effects = scheduler.handle(event, 0)
  const rejected = effects.find((e) => e.type === 'rejected')
  if (rejected) throw new Error(`setup event ${event.type} rejected: ${rejected.message}`)
  return effects
}

function addWorkers(scheduler: OwnerScheduler, count: number, memoryMb: number): void {
  for (let i = 0; i < count; i++) {
    apply(scheduler, { type: 'worker-joined', workerId: `w${i}`, memoryMb })
  }
}

function registerFunction(scheduler: OwnerScheduler, name: string, memoryMb: number): void {
  apply(scheduler, { type: 'function-registered', spec: { name, memoryMb } })
}

/** The worker id at the function's home position (OpenWhisk: hash of namespace, namespace/action). */
function homeWorkerId(fn: string, workerCount: number): string {
  const hash = invocationHash(OWNER, `${OWNER}/${fn}`)
  const { home } = homeAndStep(hash, workerCount, pairwiseCoprimeNumbersUntil(workerCount))
  return `w${home}`
}

function countDispatches(effects: readonly SchedulerEffect[]): number {
  let count = 0
  for (const effect of effects) if (effect.type === 'dispatch') count++
  return count
}

// ---------------------------------------------------------------- placement decisions

type Situation = 'home free' | 'all full'
const SITUATIONS: readonly Situation[] = ['home free', 'all full']

const WORKER_MEMORY_MB = 1024
const FN_MEMORY_MB = 256

/** Workers with all their memory free, the target function registered, nothing running. */
function homeFreeScheduler(policy: PlacementPolicy, workers: number): OwnerScheduler {
  const scheduler = newScheduler(policy, workers)
  addWorkers(scheduler, workers, WORKER_MEMORY_MB)
  registerFunction(scheduler, TARGET_FN, FN_MEMORY_MB)
  return scheduler
}

/** One busy filler host per worker taking all its memory; the target function has no host. */
function allFullScheduler(policy: PlacementPolicy, workers: number): OwnerScheduler {
  const scheduler = newScheduler(policy, workers)
  addWorkers(scheduler, workers, WORKER_MEMORY_MB)
  registerFunction(scheduler, FILLER_FN, WORKER_MEMORY_MB)
  registerFunction(scheduler, TARGET_FN, FN_MEMORY_MB)
  for (let i = 0; i < workers; i++) {
    const effects = apply(scheduler, {
      type: 'invocation-submitted',
      invocation: { id: `fill${i}`, fn: FILLER_FN },
    })
    if (countDispatches(effects) !== 1) throw new Error(`filler ${i} was not dispatched`)
  }
  return scheduler
}

function checkHomeFree(scheduler: OwnerScheduler, workers: number): void {
  const decision = scheduler.decidePlacement(TARGET_FN)
  const home = homeWorkerId(TARGET_FN, workers)
  if (!decision || decision.overloaded || decision.warm || decision.worker !== home) {
    throw new Error(
      `home free at ${workers} workers: expected a cold placement on home ${home}, ` +
        `got ${JSON.stringify(decision)}`,
    )
  }
}

function checkAllFull(scheduler: OwnerScheduler, workers: number): void {
  const notFull = scheduler
    .workers()
    .filter((w) => w.usedMb < w.memoryMb || w.idleMb > 0 || w.load === 0)
  if (notFull.length > 0 || scheduler.inflight !== workers) {
    throw new Error(`all full at ${workers} workers: ${notFull.length} workers still have room`)
  }
  const decision = scheduler.decidePlacement(TARGET_FN)
  if (!decision || !decision.overloaded) {
    throw new Error(
      `all full at ${workers} workers: expected a forced (overloaded) placement, ` +
        `got ${JSON.stringify(decision)}`,
    )
  }
}

/** A scheduler in the given situation, checked to be in it. */
function placementScheduler(
  policy: PlacementPolicy,
  situation: Situation,
  workers: number,
): OwnerScheduler {
  if (situation === 'home free') {
    const scheduler = homeFreeScheduler(policy, workers)
    checkHomeFree(scheduler, workers)
    return scheduler
  }
  const scheduler = allFullScheduler(policy, workers)
  checkAllFull(scheduler, workers)
  return scheduler
}

function decisionOperation(scheduler: OwnerScheduler, expectOverloaded: boolean): Operation {
  return (ops) => {
    let overloaded = 0
    for (let i = 0; i < ops; i++) {
      if (scheduler.decidePlacement(TARGET_FN)?.overloaded) overloaded++
    }
    if (overloaded !== (expectOverloaded ? ops : 0)) {
      throw new Error(`decisions changed during timing: ${overloaded}/${ops} overloaded`)
    }
  }
}

interface DecisionRow {
  readonly policy: PlacementPolicy
  readonly situation: Situation
  readonly workers: number
  readonly rate: Rate
}

function benchDecisions(): DecisionRow[] {
  const rows: DecisionRow[] = []
  for (const policy of POLICIES) {
    for (const situation of SITUATIONS) {
      for (const workers of WORKER_COUNTS) {
        const scheduler = placementScheduler(policy, situation, workers)
        const operation = decisionOperation(scheduler, situation === 'all full')
        rows.push({ policy, situation, workers, rate: measure(operation, DECISION_TIMING) })
      }
    }
  }
  return rows
}

// ---------------------------------------------------------------- submit + dispatch

const QUEUE_WORKERS = 100
const QUEUE_CAPACITY = 200
const QUEUE_DEPTHS = [100, 100_000] as const

/** A saturated scheduler: `QUEUE_CAPACITY` running, `depth` queued. */
interface QueueBench {
  readonly scheduler: OwnerScheduler
  /** Running invocations (id, attempt), in a ring: the oldest is completed next. */
  readonly runningIds: string[]
  readonly runningAttempts: number[]
  next: number
  submitted: number
}

/** Records the invocations of the dispatch effects into the ring; returns how many dispatches. */
function recordDispatches(bench: QueueBench, effects: readonly SchedulerEffect[]): number {
  let dispatches = 0
  for (const effect of effects) {
    if (effect.type !== 'dispatch') continue
    dispatches++
    for (const inv of effect.invocations) {
      bench.runningIds[bench.next] = inv.id
      bench.runningAttempts[bench.next] = inv.attempt
      bench.next = (bench.next + 1) % QUEUE_CAPACITY
    }
  }
  return dispatches
}

function submitOne(bench: QueueBench): SchedulerEffect[] {
  const id = `q${bench.submitted++}`
  return bench.scheduler.handle(
    { type: 'invocation-submitted', invocation: { id, fn: TARGET_FN } },
    0,
  )
}

function saturatedScheduler(depth: number): QueueBench {
  const scheduler = newScheduler('warm-bounded', QUEUE_CAPACITY)
  addWorkers(scheduler, QUEUE_WORKERS, WORKER_MEMORY_MB)
  registerFunction(scheduler, TARGET_FN, FN_MEMORY_MB)
  const bench: QueueBench = {
    scheduler,
    runningIds: new Array<string>(QUEUE_CAPACITY).fill(''),
    runningAttempts: new Array<number>(QUEUE_CAPACITY).fill(0),
    next: 0,
    submitted: 0,
  }
  for (let i = 0; i < QUEUE_CAPACITY + depth; i++) recordDispatches(bench, submitOne(bench))
  checkSaturated(bench, depth)
  return bench
}

function checkSaturated(bench: QueueBench, depth: number): void {
  const { inflight, queued } = bench.scheduler
  if (inflight !== QUEUE_CAPACITY || queued !== depth) {
    throw new Error(
      `expected ${QUEUE_CAPACITY} running and ${depth} queued, got ${inflight} and ${queued}`,
    )
  }
}

/** Completes the oldest running invocation (dispatching a queued one), then submits a new one. */
function completeAndSubmit(bench: QueueBench): void {
  const slot = bench.next
  const completed = bench.scheduler.handle(
    {
      type: 'invocation-completed',
      invocationId: bench.runningIds[slot] ?? '',
      attempt: bench.runningAttempts[slot] ?? 0,
    },
    0,
  )
  if (recordDispatches(bench, completed) !== 1) {
    throw new Error(`completion did not dispatch exactly once: ${JSON.stringify(completed)}`)
  }
  const submitted = submitOne(bench)
  if (submitted.length !== 0) {
    throw new Error(`submission into a full scheduler did something: ${JSON.stringify(submitted)}`)
  }
}

function queueOperation(bench: QueueBench, depth: number): Operation {
  return (ops) => {
    for (let i = 0; i < ops; i++) completeAndSubmit(bench)
    checkSaturated(bench, depth)
  }
}

interface QueueRow {
  readonly depth: number
  readonly rate: Rate
}

function benchQueue(): QueueRow[] {
  return QUEUE_DEPTHS.map((depth) => ({
    depth,
    rate: measure(queueOperation(saturatedScheduler(depth), depth), QUEUE_TIMING),
  }))
}

// ---------------------------------------------------------------- report

function formatRate(perSec: number): string {
  return Math.round(perSec).toLocaleString('en-US')
}

/** Range of the repetitions around the median, in percent. */
function formatSpread(rate: Rate): string {
  return `±${(((rate.max - rate.min) / 2 / rate.median) * 100).toFixed(1)}%`
}

/** Prints aligned columns: the first `textColumns` to the left, the numbers to the right. */
function printTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  textColumns: number,
): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i < textColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd()
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
}

function targetCell(row: DecisionRow): string {
  if (row.situation !== 'home free' || row.workers !== TARGET_WORKERS) return ''
  const verdict = row.rate.median >= DECISION_TARGET_PER_SEC ? 'PASS' : 'MISS'
  return `>= ${formatRate(DECISION_TARGET_PER_SEC)}  ${verdict}`
}

function printDecisions(rows: readonly DecisionRow[]): void {
  console.log('\nPlacement decisions (scheduler.decidePlacement), one core\n')
  printTable(
    ['policy', 'situation', 'workers', 'decisions/s', 'spread', 'ns/decision', 'target'],
    rows.map((r) => [
      r.policy,
      r.situation,
      r.workers.toLocaleString('en-US'),
      formatRate(r.rate.median),
      formatSpread(r.rate),
      (1e9 / r.rate.median).toFixed(0),
      targetCell(r),
    ]),
    2,
  )
}

function printQueue(rows: readonly QueueRow[]): void {
  console.log(
    `\nSubmit+dispatch, warm-bounded, ${QUEUE_WORKERS} workers, capacity ${QUEUE_CAPACITY} ` +
      'all in use\n(one op = complete the oldest running invocation, which dispatches the ' +
      'next queued one,\n then submit a new one: two events, queue depth constant)\n',
  )
  const baseline = rows[0]?.rate.median ?? Number.NaN
  printTable(
    ['queued', 'ops/s', 'spread', 'µs/op', `vs ${rows[0]?.depth ?? '?'} queued`],
    rows.map((r) => [
      r.depth.toLocaleString('en-US'),
      formatRate(r.rate.median),
      formatSpread(r.rate),
      (1e6 / r.rate.median).toFixed(2),
      `${((r.rate.median / baseline) * 100).toFixed(0)}%`,
    ]),
    0,
  )
}

/**
 * tsx compiles the library's source with esbuild's `keepNames`, which wraps every named
 * closure in `__name(...)` (an Object.defineProperty call each time the closure is made).
 * The compiled `dist` build has no such call, so say which code is being measured.
 */
function keepNamesTransformed(): boolean {
  return placeWarmBounded.toString().includes('__name(')
}

function printHeader(): void {
  const cpu = cpus()
  console.log('scheduler-core benchmark (npm run bench:core)')
  console.log(`node  ${process.version} ${process.platform}/${process.arch}`)
  console.log(`cpu   ${cpu[0]?.model ?? 'unknown'} (${cpu.length} logical cores, one used)`)
  console.log(
    `code  @chorus/scheduler-core, esbuild keepNames wrappers: ` +
      (keepNamesTransformed() ? 'yes (tsx transform of src)' : 'no'),
  )
  const timing = (t: Timing): string =>
    `median of ${t.repetitions} × ${t.repetitionMs} ms after ${t.warmupMs} ms warm-up`
  console.log(`timing decisions: ${timing(DECISION_TIMING)}`)
  console.log(`       queue:     ${timing(QUEUE_TIMING)}`)
  console.log('       spread = half the range between the slowest and fastest repetition')
}

function main(): void {
  const start = performance.now()
  printHeader()
  printDecisions(benchDecisions())
  printQueue(benchQueue())
  console.log(`\ntotal ${((performance.now() - start) / 1000).toFixed(1)} s`)
}

main()
