/**
 * bench:e2e — a trivial `nodejs` function (`export default async (x) => x`) run end to end
 * through a real 3-peer mesh, next to the floor (the same code in a function host of our own,
 * called over keep-alive HTTP) and to Dask distributed doing the same trivial work, in one run:
 *
 *  (a) Warm round trip: sequential invocations on one keep-alive socket, after a warm-up, sent
 *      to the peer that runs the owner's scheduler (and, for information, to one that does not:
 *      forwarded). The floor is `POST /run` straight to a function host this process started;
 *      Dask's is `client.submit(noop, i, pure=False).result()`. The cases are measured in
 *      interleaved rounds so that all see the same load. Targets: mesh p50 ≤ 2× the floor's and
 *      ≤ 1/10 of Dask's.
 *  (b) Throughput: 10,000 invocations, 64 in flight, a third entering at each peer, next
 *      to Dask's `client.gather(client.map(noop, range(10000), pure=False))`. Target: ≥ 10×
 *      Dask's tasks/s.
 *  (c) Cold start of a `nodejs` function host: spawn + ready + /init + first run, p50 over 20
 *      hosts started one after the other (after 3 uncounted). Target: ≤ 150 ms. For information:
 *      the first invocation through the mesh of functions just deployed.
 *  (d) Batching off vs on, for information: the load of (b) on two deployments of the same
 *      code, one without `batch` and one with `batch: { size: --batch, waitMs: --batch-wait }`,
 *      measured in interleaved rounds and printed side by side.
 *
 * Dask runs first, while no Chorus process runs, through `dask_e2e.py` (Debian's
 * `python3-distributed`, `/usr/bin/python3`; without it the bench says "Dask skipped: …" and the
 * Dask targets are not judged). The peers are `node packages/node/dist/cli.js start` processes
 * (the built code) on 127.0.0.1. Every answer is checked (HTTP 200, `status: succeeded`, the
 * output equal to the input).
 *
 * Flags: --requests N (a, per case, default 1000), --throughput N (b, default 10000),
 *        --in-flight N (b, default 64), --concurrency N (the function's, default 64),
 *        --cold N (c, default 20), --batch N (d: the batch size, at most --concurrency,
 *        default 8), --batch-wait MS (d, default 2), --no-dask.
 *
 * Run: npm run bench:e2e
 */
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type * as FunctionHostModule from '../src/function-host/index.js'
import { runDask, type DaskResult } from './dask.js'
import {
  HttpClient,
  ROOT,
  count,
  cpuTimeMs,
  installCleanup,
  isShuttingDown,
  machineHeader,
  meshPeers,
  ms,
  out,
  progress,
  quantile,
  requireBuild,
  shutdown,
  sleep,
  startPeer,
  table,
  target,
  verdict,
  type HttpAnswer,
  type Peer,
  type Target,
} from './support.js'

const TARGET_FLOOR_RATIO = 2
const TARGET_DASK_LATENCY_RATIO = 1 / 10
const TARGET_DASK_THROUGHPUT_RATIO = 10
const TARGET_COLD_START_P50_MS = 150

const PEERS = 3
const OWNER = 'bench-e2e'
const FUNCTION = 'noop'
const CODE = 'export default async (x) => x'
const INPUT = 42
const ROUNDS = 4
const WARMUP_REQUESTS = 200
const COLD_WARMUP = 3
const MESH_COLD_FUNCTIONS = 8
const DASK_TIMEOUT_MS = 180_000
/** No measurement phase may run longer than this, whatever its count. */
const PHASE_LIMIT_MS = 60_000
/** Peer stderr lines worth counting: a worker refusing work, anything else the peer logs. */
const PEER_STDERR = { busy: /busy/, any: /./ } as const
const FUNCTION_HOST_DIST = join(ROOT, 'packages/node/dist/function-host/index.js')

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    throughput: { type: 'string', default: '10000' },
    'in-flight': { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '64' },
    cold: { type: 'string', default: '20' },
    batch: { type: 'string', default: '8' },
    'batch-wait': { type: 'string', default: '2' },
    'no-dask': { type: 'boolean', default: false },
  },
})
const LATENCY_REQUESTS = positive(flags.requests, '--requests')
const THROUGHPUT_REQUESTS = positive(flags.throughput, '--throughput')
const THROUGHPUT_WARMUP = Math.min(2_000, THROUGHPUT_REQUESTS)
const IN_FLIGHT = positive(flags['in-flight'], '--in-flight')
const CONCURRENCY = positive(flags.concurrency, '--concurrency')
const COLD_HOSTS = positive(flags.cold, '--cold')
const BATCH_SIZE = positive(flags.batch, '--batch')
const BATCH_WAIT_MS = Number(flags['batch-wait'])
if (!Number.isSafeInteger(BATCH_WAIT_MS) || BATCH_WAIT_MS < 0) {
  throw new Error('--batch-wait must be a non-negative integer')
}
if (BATCH_SIZE > CONCURRENCY) throw new Error('--batch must not exceed --concurrency')
/** (d)'s deployment of the same code with batching on. */
const BATCHED_FUNCTION = 'noop-batched'

function positive(text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`)
  return n
}

function invocationPath(fn: string): string {
  return `/v1/owners/${OWNER}/functions/${fn}/invocations`
}

const INVOKE_BODY = Buffer.from(JSON.stringify({ input: INPUT }))
/** What FunctionHost.run() sends (function-host.ts): the OpenWhisk action contract. */
const RUN_BODY = Buffer.from(
  JSON.stringify({ value: INPUT, activation_id: 'bench-floor', deadline: Date.now() + 3_600_000 }),
)

/** Checks one answer; returns what is wrong with it, or undefined. */
type Check = (answer: HttpAnswer) => string | undefined

const checkInvocation: Check = (answer) => {
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`
  const view = JSON.parse(answer.body.toString()) as { status?: unknown; output?: unknown }
  if (view.status !== 'succeeded') return `status ${String(view.status)}`
  if (view.output !== INPUT) return `output ${JSON.stringify(view.output)}, expected ${INPUT}`
  return undefined
}

const checkRun: Check = (answer) => {
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`
  const output = JSON.parse(answer.body.toString()) as unknown
  return output === INPUT ? undefined : `output ${JSON.stringify(output)}, expected ${INPUT}`
}

function ranOn(answer: HttpAnswer): string | undefined {
  if (answer.status !== 200) return undefined
  const peerId = (JSON.parse(answer.body.toString()) as { peerId?: unknown }).peerId
  return typeof peerId === 'string' ? peerId : undefined
}

function loadLine(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')
}

// ------------------------------------------------------------------ measuring

/** One way of doing one trivial run, timed from the caller's side. */
interface Case {
  readonly label: string
  /** Resolves with where it ran (a peer id) or undefined; rejects with what went wrong. */
  once(): Promise<string | undefined>
  close(): void
}

function httpCase(label: string, to: Target, path: string, body: Buffer, check: Check): Case {
  const client = new HttpClient(1)
  return {
    label,
    async once() {
      const answer = await client.request(to, 'POST', path, body)
      const problem = check(answer)
      if (problem !== undefined) throw new Error(problem)
      return ranOn(answer)
    },
    close: () => client.close(),
  }
}

interface Samples {
  readonly samples: number[]
  errors: number
  firstError?: string
  /** Answers per peer id that ran them. */
  readonly ranOn: Map<string, number>
}

/**
 * Warms each case up, then runs `perCase` sequential requests of each, in `ROUNDS` interleaved
 * rounds, so that a burst of load on the shared machine hits all cases alike. Bounded in time.
 */
async function interleaved(cases: readonly Case[], perCase: number): Promise<Samples[]> {
  const results = cases.map((): Samples => ({ samples: [], errors: 0, ranOn: new Map() }))
  const deadline = performance.now() + PHASE_LIMIT_MS
  const runOne = async (c: Case, r: Samples | undefined): Promise<void> => {
    const start = performance.now()
    try {
      const peer = await c.once()
      if (r === undefined) return
      r.samples.push(performance.now() - start)
      if (peer !== undefined) r.ranOn.set(peer, (r.ranOn.get(peer) ?? 0) + 1)
    } catch (err) {
      if (r === undefined) throw err
      r.errors++
      r.firstError ??= (err as Error).message
    }
  }
  for (const c of cases) {
    for (let i = 0; i < WARMUP_REQUESTS; i++) await runOne(c, undefined)
  }
  for (let round = 0; round < ROUNDS; round++) {
    const n = Math.ceil(perCase / ROUNDS)
    for (const [i, c] of cases.entries()) {
      const r = results[i] as Samples
      for (let k = 0; k < n && r.samples.length + r.errors < perCase; k++) {
        if (performance.now() > deadline) return results
        await runOne(c, r)
      }
    }
  }
  return results
}

interface ThroughputResult {
  readonly completed: number
  readonly errors: number
  readonly firstError?: string
  readonly elapsedMs: number
  readonly latencies: number[]
  readonly ranOn: Map<string, number>
  readonly perSecond: number
  readonly timedOut: boolean
}

interface Send {
  readonly to: Target
  readonly path: string
  readonly body: Buffer
  readonly check: Check
}

/**
 * `n` requests, `inFlight` at a time (a closed loop of `inFlight` workers), `pick(worker)` saying
 * what a worker sends. A worker keeps to one target, so each target sees a steady number of
 * connections and no kept-alive socket idles long enough for the server to close it under a
 * request (the ECONNRESET race of keep-alive clients).
 */
async function closedLoop(
  n: number,
  inFlight: number,
  pick: (worker: number) => Send,
): Promise<ThroughputResult> {
  const client = new HttpClient(inFlight)
  const deadline = performance.now() + PHASE_LIMIT_MS
  const latencies: number[] = []
  const ran = new Map<string, number>()
  let next = 0
  let errors = 0
  let firstError: string | undefined
  let timedOut = false
  const start = performance.now()
  const worker = async (w: number): Promise<void> => {
    const send = pick(w)
    for (;;) {
      const k = next++
      if (k >= n) return
      if (performance.now() > deadline) {
        timedOut = true
        return
      }
      const sent = performance.now()
      try {
        const answer = await client.request(send.to, 'POST', send.path, send.body)
        const took = performance.now() - sent
        const problem = send.check(answer)
        if (problem !== undefined) {
          errors++
          firstError ??= problem
          continue
        }
        latencies.push(took)
        const peer = ranOn(answer)
        if (peer !== undefined) ran.set(peer, (ran.get(peer) ?? 0) + 1)
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)))
  } finally {
    client.close()
  }
  const elapsedMs = performance.now() - start
  return {
    completed: latencies.length,
    errors,
    firstError,
    elapsedMs,
    latencies: latencies.sort((a, b) => a - b),
    ranOn: ran,
    perSecond: (latencies.length / elapsedMs) * 1000,
    timedOut,
  }
}

/** Closed loops of `n` requests in all, in `ROUNDS` rounds alternating between the sends. */
async function alternating(
  n: number,
  inFlight: number,
  picks: readonly ((worker: number) => Send)[],
): Promise<ThroughputResult[]> {
  const rounds: ThroughputResult[][] = picks.map(() => [])
  const perRound = Math.ceil(n / ROUNDS)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, pick] of picks.entries()) {
      rounds[i]?.push(await closedLoop(perRound, inFlight, pick))
    }
  }
  return rounds.map(merged)
}

/** Several measurements of one case as one: counts and times added, latencies pooled. */
function merged(parts: readonly ThroughputResult[]): ThroughputResult {
  const completed = parts.reduce((a, r) => a + r.completed, 0)
  const elapsedMs = parts.reduce((a, r) => a + r.elapsedMs, 0)
  const ranOn = new Map<string, number>()
  for (const r of parts) for (const [k, v] of r.ranOn) ranOn.set(k, (ranOn.get(k) ?? 0) + v)
  const firstError = parts.find((r) => r.firstError !== undefined)?.firstError
  return {
    completed,
    errors: parts.reduce((a, r) => a + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    elapsedMs,
    latencies: parts.flatMap((r) => r.latencies).sort((a, b) => a - b),
    ranOn,
    perSecond: (completed / elapsedMs) * 1000,
    timedOut: parts.some((r) => r.timedOut),
  }
}

// ------------------------------------------------------------------ the mesh

/** Polls until each peer sees all `peers` alive; bounded. */
async function waitForMesh(client: HttpClient, peers: readonly Peer[], timeoutMs: number) {
  const ids = peers.map((p) => p.peerId)
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const views = await Promise.all(
      peers.map((p) => meshPeers(client, target(p.httpUrl)).catch(() => undefined)),
    )
    const converged = views.every((v) => {
      if (!v) return false
      const alive = new Set(v.peers.filter((m) => m.state === 'alive').map((m) => m.peerId))
      return ids.every((id) => id === v.self || alive.has(id))
    })
    if (converged) return
    await sleep(50)
  }
  throw new Error(`the ${peers.length} peers did not all see each other alive in ${timeoutMs} ms`)
}

async function deploy(
  client: HttpClient,
  at: Peer,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const body = Buffer.from(
    JSON.stringify({ name, runtime: 'nodejs', code: CODE, concurrency: CONCURRENCY, ...extra }),
  )
  const answer = await client.request(
    target(at.httpUrl),
    'POST',
    `/v1/owners/${OWNER}/functions`,
    body,
  )
  if (answer.status !== 201) {
    throw new Error(`deploy of ${name}: HTTP ${answer.status} ${answer.body.toString()}`)
  }
  return (JSON.parse(answer.body.toString()) as { version: number }).version
}

/** Polls each peer until it knows `name` at `version`; returns how long that took. Bounded. */
async function waitForDefinition(
  client: HttpClient,
  peers: readonly Peer[],
  name: string,
  version: number,
  timeoutMs: number,
): Promise<number> {
  const began = performance.now()
  const deadline = began + timeoutMs
  const path = `/v1/owners/${OWNER}/functions/${name}`
  for (const peer of peers) {
    for (;;) {
      const answer = await client.request(target(peer.httpUrl), 'GET', path)
      if (answer.status === 200) {
        const view = JSON.parse(answer.body.toString()) as { version?: unknown }
        if (typeof view.version === 'number' && view.version >= version) break
      }
      if (performance.now() > deadline) {
        throw new Error(`${peer.label} did not learn ${name}@${version} within ${timeoutMs} ms`)
      }
      await sleep(20)
    }
  }
  return performance.now() - began
}

/** The peers hosting a scheduler of OWNER, by each peer's `GET /v1/mesh/schedulers?local=1`. */
async function responsibles(client: HttpClient, peers: readonly Peer[]): Promise<Peer[]> {
  const found: Peer[] = []
  for (const peer of peers) {
    const answer = (await client.getJson(target(peer.httpUrl), '/v1/mesh/schedulers?local=1')) as {
      schedulers?: { owner?: unknown }[]
    }
    if ((answer.schedulers ?? []).some((s) => s.owner === OWNER)) found.push(peer)
  }
  return found
}

// ------------------------------------------------------------------ output

function latencyRow(
  label: string,
  r: Samples,
  expected: number,
  floorP50: number,
  daskP50: number,
): string[] {
  const sorted = [...r.samples].sort((a, b) => a - b)
  const p50 = quantile(sorted, 0.5)
  return [
    label,
    `${count(sorted.length)}${r.errors > 0 ? ` (+${r.errors} errors)` : ''}${sorted.length + r.errors < expected ? ' (cut short)' : ''}`,
    ms(p50),
    ms(quantile(sorted, 0.9)),
    ms(quantile(sorted, 0.99)),
    ms(sorted[sorted.length - 1] ?? Number.NaN),
    Number.isFinite(floorP50) ? `${(p50 / floorP50).toFixed(2)}×` : '',
    Number.isFinite(daskP50) ? `${(p50 / daskP50).toFixed(3)}×` : 'n/a',
  ]
}

function spread(ranOnPeers: ReadonlyMap<string, number>, name: (id: string) => string): string {
  const total = [...ranOnPeers.values()].reduce((a, b) => a + b, 0)
  if (total === 0) return 'n/a'
  return [...ranOnPeers.entries()]
    .sort(([a], [b]) => name(a).localeCompare(name(b)))
    .map(([id, n]) => `${name(id)} ${((n / total) * 100).toFixed(0)}%`)
    .join(', ')
}

/** A verdict row: what, measured, target, result; SKIP when a comparison was not measured. */
function targetRow(
  what: string,
  measured: string,
  targetText: string,
  value: number,
  limit: number,
  kind: 'le' | 'ge',
  valid: boolean,
  skipped = false,
): string[] {
  if (skipped) return [what, measured, targetText, 'SKIP (Dask not measured)']
  return [what, measured, targetText, valid ? verdict(value, limit, kind) : 'MISS']
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  installCleanup()
  requireBuild()
  if (!existsSync(FUNCTION_HOST_DIST)) {
    throw new Error(`${FUNCTION_HOST_DIST} is missing: run npm run build first`)
  }
  const { FunctionHost } = (await import(FUNCTION_HOST_DIST)) as typeof FunctionHostModule
  const began = performance.now()
  out(machineHeader('Chorus bench:e2e — a trivial nodejs function: mesh vs floor vs Dask'))
  out(`load avg at start (1 / 5 / 15 min): ${loadLine()}\n`)

  // ---------------------------------------------------------------- Dask, alone
  let dask: DaskResult
  if (flags['no-dask']) dask = { type: 'skipped', reason: '--no-dask' }
  else {
    progress(
      `Dask: LocalCluster(2 processes × 1 thread), ${LATENCY_REQUESTS} × submit().result(), ` +
        `map of ${count(THROUGHPUT_REQUESTS)} (time limit ${DASK_TIMEOUT_MS / 1000} s)`,
    )
    dask = await runDask({
      samples: Math.max(300, LATENCY_REQUESTS),
      tasks: THROUGHPUT_REQUESTS,
      timeoutMs: DASK_TIMEOUT_MS,
    })
  }
  if (dask.type === 'skipped') out(`Dask skipped: ${dask.reason}\n`)
  else {
    out(
      `Dask ${dask.distributed} (Python ${dask.python}): LocalCluster(n_workers=${dask.workers}, ` +
        `threads_per_worker=${dask.threadsPerWorker}, processes=True), started in ` +
        `${dask.startupS.toFixed(2)} s; measured first, while no Chorus process ran\n`,
    )
  }
  const daskP50 = dask.type === 'measured' ? dask.submit.p50Ms : Number.NaN

  // ---------------------------------------------------------------- (c) host cold start
  progress(`(c) ${COLD_WARMUP} + ${COLD_HOSTS} function hosts started and stopped one by one`)
  const spec = { runtime: 'nodejs', code: CODE, memoryMb: 128, concurrency: CONCURRENCY } as const
  const startMs: number[] = []
  const coldMs: number[] = []
  const firstRunMs: number[] = []
  for (let i = 0; i < COLD_WARMUP + COLD_HOSTS; i++) {
    const t0 = performance.now()
    const host = await FunctionHost.start(spec)
    try {
      const output = await host.run(INPUT, { invocationId: `cold-${i}`, timeoutMs: 10_000 })
      const t1 = performance.now()
      if (output !== INPUT) throw new Error(`cold host ${i} answered ${JSON.stringify(output)}`)
      if (i < COLD_WARMUP) continue
      startMs.push(host.startMs)
      coldMs.push(t1 - t0)
      firstRunMs.push(t1 - t0 - host.startMs)
    } finally {
      await host.stop()
    }
  }

  // ---------------------------------------------------------------- the floor host and the mesh
  progress('starting the floor function host and 3 peers')
  const floorHost = await FunctionHost.start(spec)
  const setup = new HttpClient(4)
  const cases: Case[] = []
  const peers: Peer[] = []
  try {
    const floorTarget: Target = { host: '127.0.0.1', port: floorHost.port ?? 0 }
    const first = await startPeer({ label: 'peer0', countStderr: PEER_STDERR })
    const rest = await Promise.all(
      Array.from({ length: PEERS - 1 }, (_, i) =>
        startPeer({ label: `peer${i + 1}`, join: first.multiaddr, countStderr: PEER_STDERR }),
      ),
    )
    peers.push(first, ...rest)
    await waitForMesh(setup, peers, 20_000)
    const name = (peerId: string): string => {
      const i = peers.findIndex((p) => p.peerId === peerId)
      return i < 0 ? peerId.slice(0, 12) : `peer${i}`
    }
    out(
      table(
        ['peer', 'pid', 'peer id', 'http'],
        peers.map((p, i) => [`peer${i}`, String(p.pid), p.peerId, p.httpUrl]),
      ),
    )

    progress(`deploying ${OWNER}/${FUNCTION} at peer0 and waiting until every peer knows it`)
    const version = await deploy(setup, first, FUNCTION)
    const replicatedMs = await waitForDefinition(setup, peers, FUNCTION, version, 10_000)
    const firstAnswer = await setup.request(
      target(first.httpUrl),
      'POST',
      invocationPath(FUNCTION),
      INVOKE_BODY,
      30_000,
    )
    const firstProblem = checkInvocation(firstAnswer)
    if (firstProblem !== undefined) throw new Error(`first invocation: ${firstProblem}`)
    const owners = await responsibles(setup, peers)
    if (owners.length !== 1) {
      throw new Error(`expected one peer to host ${OWNER}'s scheduler, found ${owners.length}`)
    }
    const responsible = owners[0] as Peer
    /** Where OWNER's scheduler is now: it may migrate (locality pull) while we measure. */
    const whereScheduled = async (): Promise<string> => {
      const now = await responsibles(setup, peers)
      const names = now.map((p) => name(p.peerId)).join(', ') || 'nowhere'
      return now.length === 1 && now[0] === responsible ? `${names}, unchanged` : `${names}, MOVED`
    }
    const other = peers.find((p) => p !== responsible) as Peer
    out(
      `${OWNER}/${FUNCTION}: \`${CODE}\`, concurrency ${CONCURRENCY}, deployed at peer0, known ` +
        `to all 3 peers after ${ms(replicatedMs, 0)}; its scheduler is on ` +
        `${name(responsible.peerId)} (GET /v1/mesh/schedulers?local=1)\n`,
    )

    // -------------------------------------------------------------- (a) warm round trip
    const floorLabel = 'floor: POST /run to a function host, keep-alive'
    cases.push(
      httpCase(floorLabel, floorTarget, '/run', RUN_BODY, checkRun),
      {
        label: 'info: FunctionHost.run() on the same host',
        async once() {
          const output = await floorHost.run(INPUT, {
            invocationId: 'bench-run',
            timeoutMs: 10_000,
          })
          if (output !== INPUT) throw new Error(`output ${JSON.stringify(output)}`)
          return undefined
        },
        close: () => undefined,
      },
      httpCase(
        `mesh: to the scheduler's peer (${name(responsible.peerId)})`,
        target(responsible.httpUrl),
        invocationPath(FUNCTION),
        INVOKE_BODY,
        checkInvocation,
      ),
      httpCase(
        `info: mesh, forwarded ${name(other.peerId)} → ${name(responsible.peerId)}`,
        target(other.httpUrl),
        invocationPath(FUNCTION),
        INVOKE_BODY,
        checkInvocation,
      ),
    )
    progress(
      `(a) ${WARMUP_REQUESTS} warm-up + ${LATENCY_REQUESTS} sequential requests per case, ` +
        `${ROUNDS} interleaved rounds`,
    )
    const latency = await interleaved(cases, LATENCY_REQUESTS)
    const p50Of = (r: Samples | undefined): number =>
      quantile(
        [...(r?.samples ?? [])].sort((a, b) => a - b),
        0.5,
      )
    const floorP50 = p50Of(latency[0])
    const meshLatency = latency[2] as Samples
    const meshP50 = p50Of(meshLatency)
    const latencyRows = cases.map((c, i) =>
      latencyRow(c.label, latency[i] as Samples, LATENCY_REQUESTS, floorP50, daskP50),
    )
    if (dask.type === 'measured') {
      const s = dask.submit
      latencyRows.push([
        'Dask: client.submit(noop, i, pure=False).result()',
        count(s.n),
        ms(s.p50Ms),
        ms(s.p90Ms),
        ms(s.p99Ms),
        ms(s.maxMs),
        `${(s.p50Ms / floorP50).toFixed(2)}×`,
        '1.000×',
      ])
    } else latencyRows.push(['Dask: skipped', '', '', '', '', '', '', ''])
    out(
      `(a) Warm round trip of one invocation (input ${INPUT}), sequential, one keep-alive ` +
        `socket per case, after ${WARMUP_REQUESTS} warm-up requests per case`,
    )
    out(
      table(
        ['case', 'requests', 'p50', 'p90', 'p99', 'max', 'p50/floor', 'p50/Dask'],
        latencyRows,
        [1, 2, 3, 4, 5, 6, 7],
      ),
    )
    out(
      `    floor: this process's own FunctionHost (dist/function-host) with the same code, called ` +
        `with node:http POST /run {"value":…,"activation_id","deadline"} on a keep-alive Agent;`,
    )
    out(
      '    FunctionHost.run() does one keep-alive HTTP POST /run per run (host-client.ts), as a peer does',
    )
    for (const [i, r] of latency.entries()) {
      if (r.ranOn.size > 0) out(`    ${cases[i]?.label}: ran on ${spread(r.ranOn, name)}`)
      if (r.firstError !== undefined) out(`    ${cases[i]?.label}: first error: ${r.firstError}`)
    }
    for (const c of cases) c.close()
    cases.length = 0
    out(`    ${OWNER}'s scheduler after (a): ${await whereScheduled()}`)

    // -------------------------------------------------------------- (c') mesh cold start
    progress(`(c) ${MESH_COLD_FUNCTIONS} functions deployed and invoked once each`)
    const meshColdMs: number[] = []
    const meshColdRanOn = new Map<string, number>()
    let meshColdError: string | undefined
    const stamp = Date.now().toString(36)
    for (let i = 0; i < MESH_COLD_FUNCTIONS; i++) {
      const fn = `cold-${stamp}-${i}`
      const v = await deploy(setup, responsible, fn)
      await waitForDefinition(setup, peers, fn, v, 10_000)
      const t0 = performance.now()
      const answer = await setup.request(
        target(responsible.httpUrl),
        'POST',
        invocationPath(fn),
        INVOKE_BODY,
        30_000,
      )
      const took = performance.now() - t0
      const problem = checkInvocation(answer)
      if (problem !== undefined) {
        meshColdError ??= problem
        continue
      }
      meshColdMs.push(took)
      const peer = ranOn(answer) ?? '?'
      meshColdRanOn.set(peer, (meshColdRanOn.get(peer) ?? 0) + 1)
    }

    // -------------------------------------------------------------- (b) throughput
    const entries = peers.map((p) => target(p.httpUrl))
    const pickMesh = (w: number): Send => ({
      to: entries[w % entries.length] as Target,
      path: invocationPath(FUNCTION),
      body: INVOKE_BODY,
      check: checkInvocation,
    })
    const pickFloor = (): Send => ({
      to: floorTarget,
      path: '/run',
      body: RUN_BODY,
      check: checkRun,
    })
    progress(
      `(b) floor, then mesh: ${count(THROUGHPUT_WARMUP)} warm-up + ${count(THROUGHPUT_REQUESTS)} ` +
        `requests each, ${IN_FLIGHT} in flight`,
    )
    await closedLoop(THROUGHPUT_WARMUP, IN_FLIGHT, pickFloor)
    const floorTp = await closedLoop(THROUGHPUT_REQUESTS, IN_FLIGHT, pickFloor)
    await closedLoop(THROUGHPUT_WARMUP, IN_FLIGHT, pickMesh)
    const cpuBefore = peers.map((p) => cpuTimeMs(p.pid))
    const tp = await closedLoop(THROUGHPUT_REQUESTS, IN_FLIGHT, pickMesh)
    const peerCpu = peers.map((p, i) => cpuTimeMs(p.pid) - (cpuBefore[i] ?? Number.NaN))
    out(
      `\n(b) Throughput: ${count(THROUGHPUT_REQUESTS)} invocations of ${OWNER}/${FUNCTION} after ` +
        `${count(THROUGHPUT_WARMUP)} warm-up, ${IN_FLIGHT} in flight (node:http keep-alive Agent, one ` +
        `client process), client worker w (of ${IN_FLIGHT}) entering at peer w mod 3: 2 in 3 forwarded to the scheduler's peer`,
    )
    const tpRow = (label: string, r: ThroughputResult): string[] => [
      label,
      `${count(r.completed)}${r.errors > 0 ? ` (+${r.errors} errors)` : ''}${r.timedOut ? ' (cut short)' : ''}`,
      (r.elapsedMs / 1000).toFixed(2),
      `${count(r.perSecond)}/s`,
      ms(quantile(r.latencies, 0.5), 2),
      ms(quantile(r.latencies, 0.99), 2),
    ]
    const tpRows = [
      tpRow('mesh: 3 entry peers', tp),
      tpRow('info: floor, POST /run to one function host', floorTp),
    ]
    if (dask.type === 'measured') {
      tpRows.push([
        'Dask: gather(map(noop, range(N), pure=False))',
        count(dask.map.tasks),
        dask.map.wallS.toFixed(2),
        `${count(dask.map.perSecond)}/s`,
        '',
        '',
      ])
    } else tpRows.push(['Dask: skipped', '', '', '', '', ''])
    out(table(['system', 'completed', 'seconds', 'rate', 'p50', 'p99'], tpRows, [1, 2, 3, 4, 5]))
    out(
      `    mesh: peers' CPU (user + system) per invocation ${ms(peerCpu.reduce((a, b) => a + b, 0) / Math.max(1, tp.completed))}; ` +
        peers
          .map(
            (_, i) =>
              `peer${i} ${(((peerCpu[i] ?? 0) / tp.elapsedMs) * 100).toFixed(0)}% of a core`,
          )
          .join(', '),
    )
    out(
      `    mesh: ran on ${spread(tp.ranOn, name)}; ${OWNER}'s scheduler after (b): ${await whereScheduled()}`,
    )
    if (tp.firstError !== undefined) out(`    mesh: first error: ${tp.firstError}`)

    // -------------------------------------------------------------- (d) batching off vs on
    const batch = { size: BATCH_SIZE, waitMs: BATCH_WAIT_MS }
    progress(
      `(d) ${OWNER}/${BATCHED_FUNCTION} with batch ${JSON.stringify(batch)}, then batching ` +
        `off vs on: ${count(THROUGHPUT_REQUESTS)} requests each in ${ROUNDS} alternating rounds`,
    )
    const batchedVersion = await deploy(setup, first, BATCHED_FUNCTION, { batch })
    await waitForDefinition(setup, peers, BATCHED_FUNCTION, batchedVersion, 10_000)
    const pickBatched = (w: number): Send => ({
      ...pickMesh(w),
      path: invocationPath(BATCHED_FUNCTION),
    })
    await closedLoop(THROUGHPUT_WARMUP, IN_FLIGHT, pickBatched)
    const [unbatched, batched] = (await alternating(THROUGHPUT_REQUESTS, IN_FLIGHT, [
      pickMesh,
      pickBatched,
    ])) as [ThroughputResult, ThroughputResult]
    out(
      `\n(d) Batching off vs on: the load of (b) (${IN_FLIGHT} in flight, entering at all 3 ` +
        `peers) on two deployments of \`${CODE}\`, concurrency ${CONCURRENCY}, the cases ` +
        `alternating over ${ROUNDS} rounds`,
    )
    out(
      table(
        ['batching', 'completed', 'seconds', 'rate', 'p50', 'p99'],
        [
          tpRow(`off: ${OWNER}/${FUNCTION}`, unbatched),
          tpRow(`on: ${OWNER}/${BATCHED_FUNCTION}, batch ${JSON.stringify(batch)}`, batched),
        ],
        [1, 2, 3, 4, 5],
      ),
    )
    out(
      `    on vs off: ${(batched.perSecond / unbatched.perSecond).toFixed(2)}× the rate, p50 ` +
        `${(quantile(batched.latencies, 0.5) / quantile(unbatched.latencies, 0.5)).toFixed(2)}×`,
    )
    for (const [label, r] of [
      ['off', unbatched],
      ['on', batched],
    ] as const) {
      if (r.firstError !== undefined) out(`    ${label}: first error: ${r.firstError}`)
    }

    // -------------------------------------------------------------- (c) report
    const sortedCold = [...coldMs].sort((a, b) => a - b)
    const coldP50 = quantile(sortedCold, 0.5)
    const summary = (label: string, values: readonly number[], digits = 1): string[] => {
      const sorted = [...values].sort((a, b) => a - b)
      return [
        label,
        String(sorted.length),
        ms(quantile(sorted, 0.5), digits),
        ms(quantile(sorted, 0.9), digits),
        ms(sorted[sorted.length - 1] ?? Number.NaN, digits),
      ]
    }
    out(
      `\n(c) Cold start of a nodejs function host (\`${CODE}\`, 128 MB), ${COLD_HOSTS} hosts started ` +
        `one after the other in this process before the peers started, after ${COLD_WARMUP} uncounted`,
    )
    out(
      table(
        ['figure', 'n', 'p50', 'p90', 'max'],
        [
          summary('host: spawn + ready + /init + first run (target)', coldMs),
          summary('host: spawn + ready + /init (FunctionHost.startMs)', startMs),
          summary('host: first run on a fresh host', firstRunMs, 2),
          summary(
            `info: mesh, first invocation of a just-deployed function at its scheduler's peer`,
            meshColdMs,
          ),
        ],
        [1, 2, 3, 4],
      ),
    )
    out(
      `    info row: ${MESH_COLD_FUNCTIONS} functions with distinct names (same owner, scheduler already ` +
        `up), each known to all 3 peers before its first POST …/invocations; the whole round trip, ` +
        `nothing subtracted; ran on ${spread(meshColdRanOn, name)}`,
    )
    if (meshColdError !== undefined) out(`    mesh cold start: first error: ${meshColdError}`)

    out('')
    for (const [i, p] of peers.entries()) {
      const counts = p.stderrCounts()
      if ((counts['any'] ?? 0) === 0) continue
      out(
        `peer${i} logged ${counts['any']} stderr line(s), ${counts['busy'] ?? 0} about a busy worker; first: ` +
          (p.stderrSamples()['any'] ?? []).join(' | '),
      )
    }
    // -------------------------------------------------------------- verdicts
    const meshOk = meshLatency.errors === 0 && meshLatency.samples.length === LATENCY_REQUESTS
    const tpOk = tp.errors === 0 && tp.completed === THROUGHPUT_REQUESTS
    const daskSkipped = dask.type === 'skipped'
    const daskRate = dask.type === 'measured' ? dask.map.perSecond : Number.NaN
    out('\nTargets')
    out(
      table(
        ['figure', 'measured', 'target', 'result'],
        [
          targetRow(
            '(a) mesh p50 vs the floor',
            `${ms(meshP50)} = ${(meshP50 / floorP50).toFixed(2)}× ${ms(floorP50)}`,
            `≤ ${TARGET_FLOOR_RATIO}× floor = ${ms(TARGET_FLOOR_RATIO * floorP50)}`,
            meshP50,
            TARGET_FLOOR_RATIO * floorP50,
            'le',
            meshOk,
          ),
          targetRow(
            '(a) mesh p50 vs Dask',
            daskSkipped
              ? ms(meshP50)
              : `${ms(meshP50)} = ${(meshP50 / daskP50).toFixed(3)}× ${ms(daskP50)}`,
            daskSkipped
              ? '≤ 1/10 of Dask'
              : `≤ 1/10 of Dask = ${ms(TARGET_DASK_LATENCY_RATIO * daskP50)}`,
            meshP50,
            TARGET_DASK_LATENCY_RATIO * daskP50,
            'le',
            meshOk,
            daskSkipped,
          ),
          targetRow(
            '(b) mesh throughput vs Dask',
            daskSkipped
              ? `${count(tp.perSecond)}/s`
              : `${count(tp.perSecond)}/s = ${(tp.perSecond / daskRate).toFixed(1)}× ${count(daskRate)}/s`,
            daskSkipped
              ? '≥ 10× Dask'
              : `≥ 10× Dask = ${count(TARGET_DASK_THROUGHPUT_RATIO * daskRate)}/s`,
            tp.perSecond,
            TARGET_DASK_THROUGHPUT_RATIO * daskRate,
            'ge',
            tpOk,
            daskSkipped,
          ),
          targetRow(
            '(c) nodejs cold start p50',
            ms(coldP50, 1),
            `≤ ${TARGET_COLD_START_P50_MS} ms`,
            coldP50,
            TARGET_COLD_START_P50_MS,
            'le',
            coldMs.length === COLD_HOSTS,
          ),
        ],
      ),
    )
    out(
      `load avg at end (1 / 5 / 15 min): ${loadLine()}; the run took ` +
        `${((performance.now() - began) / 1000).toFixed(0)} s`,
    )
  } finally {
    for (const c of cases) c.close()
    setup.close()
    await Promise.all([floorHost.stop(), ...peers.map((p) => p.kill('SIGTERM', 5_000))])
  }
}

main()
  .then(() => shutdown(0))
  .catch((err: unknown) => {
    if (isShuttingDown()) return
    process.stderr.write(
      `bench:e2e failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    return shutdown(1)
  })
