/**
 * bench:mesh — what an invocation of `builtin/echo` costs through a real 3-peer mesh, next
 * to the floor: a plain keep-alive node:http echo server in a child process, measured by the
 * same client in the same run.
 *
 *  (a) Latency: sequential requests on one keep-alive socket, after a warm-up, sent to the
 *      peer responsible for the owner (served there) and to a peer that is not (one forward
 *      over the libp2p channel to the responsible and back). p50/p99.
 *  (b) Throughput: a fixed number of requests, 64 in flight, spread over the 3 peers and over
 *      many owners whose responsibles are spread over the 3 peers (each owner reaches the mesh
 *      through every peer in turn, so about 2 in 3 requests are forwarded) → invocations/s.
 *
 * The peers are `node packages/node/dist/cli.js start` processes (the built code; tsx's
 * keepNames transform would slow hot paths), joined through the first, on 127.0.0.1 only.
 * Every answer is checked (HTTP 200, status succeeded, and for (a) where it ran).
 *
 * Flags: --requests N (latency, default 2000), --throughput N (default 20000),
 *        --profile (peers run under --cpu-prof; prints where their CPU time went).
 *
 * Run: npm run bench:mesh [-- --profile]
 */
import { mkdirSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { summarizeProfiles } from './profile.js'
import {
  BENCH_DIR,
  HttpClient,
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
  spawnChild,
  startPeer,
  table,
  target,
  verdict,
  waitForLine,
  type HttpAnswer,
  type Peer,
  type Target,
} from './support.js'

const TARGET_DIRECT_P50_MS = 1
const TARGET_FORWARDED_P50_MS = 2
const TARGET_THROUGHPUT = 5_000
const PEERS = 3
const IN_FLIGHT = 64
const OWNERS = 60
const LATENCY_OWNER = 'bench-latency'
/** No measurement phase may run longer than this, whatever its count. */
const PHASE_LIMIT_MS = 120_000
const BODY = Buffer.from(JSON.stringify({ input: 'ping' }))

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    throughput: { type: 'string', default: '20000' },
    profile: { type: 'boolean', default: false },
  },
})
const LATENCY_REQUESTS = positive(flags.requests, '--requests')
const LATENCY_WARMUP = Math.min(500, LATENCY_REQUESTS)
const THROUGHPUT_REQUESTS = positive(flags.throughput, '--throughput')
const THROUGHPUT_WARMUP = Math.min(2_000, THROUGHPUT_REQUESTS)
const MESH_WARMUP = Math.min(10_000, THROUGHPUT_REQUESTS)

function positive(text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`)
  return n
}

function invocationPath(owner: string): string {
  return `/v1/owners/${owner}/functions/echo/invocations`
}

/** Checks one answer; returns what is wrong with it, or undefined. */
type Check = (answer: HttpAnswer) => string | undefined

function checkInvocation(expectedPeer?: string): Check {
  return (answer) => {
    if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.toString()}`
    const view = JSON.parse(answer.body.toString()) as { status?: unknown; peerId?: unknown }
    if (view.status !== 'succeeded') return `status ${String(view.status)}`
    if (expectedPeer !== undefined && view.peerId !== expectedPeer) {
      return `ran on ${String(view.peerId)}, expected ${expectedPeer}`
    }
    return undefined
  }
}

function ranOn(answer: HttpAnswer): string | undefined {
  if (answer.status !== 200) return undefined
  const peerId = (JSON.parse(answer.body.toString()) as { peerId?: unknown }).peerId
  return typeof peerId === 'string' ? peerId : undefined
}

interface LatencyResult {
  readonly samples: number[]
  readonly errors: number
  readonly firstError?: string
  readonly complete: boolean
}

/** `n` sequential requests on one keep-alive socket; per-request round trip in ms. */
async function sequential(
  to: Target,
  path: string,
  n: number,
  check: Check,
): Promise<LatencyResult> {
  const client = new HttpClient(1)
  const deadline = performance.now() + PHASE_LIMIT_MS
  const samples: number[] = []
  let errors = 0
  let firstError: string | undefined
  try {
    for (let i = 0; i < n && performance.now() < deadline; i++) {
      const start = performance.now()
      try {
        const answer = await client.request(to, 'POST', path, BODY)
        const took = performance.now() - start
        const problem = check(answer)
        if (problem === undefined) samples.push(took)
        else {
          errors++
          firstError ??= problem
        }
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
      }
    }
  } finally {
    client.close()
  }
  return { samples, errors, complete: samples.length + errors === n, firstError }
}

interface ThroughputResult {
  readonly completed: number
  readonly errors: number
  readonly firstError?: string
  readonly elapsedMs: number
  readonly latencies: number[]
  /** Answers that ran on another peer than the one asked. */
  readonly forwarded: number
  readonly perSecond: number
}

interface Send {
  readonly to: Target
  readonly path: string
  /** The peer asked, to count forwards; undefined for the floor. */
  readonly entryPeerId?: string
}

/** `n` requests, `inFlight` at a time (a closed loop), `pick(k)` saying where the k-th goes. */
async function closedLoop(
  n: number,
  inFlight: number,
  pick: (k: number) => Send,
  check: Check,
): Promise<ThroughputResult> {
  const client = new HttpClient(inFlight)
  const deadline = performance.now() + PHASE_LIMIT_MS
  const latencies: number[] = []
  let next = 0
  let errors = 0
  let forwarded = 0
  let ok = 0
  let firstError: string | undefined
  const start = performance.now()
  const worker = async (): Promise<void> => {
    for (;;) {
      const k = next++
      if (k >= n || performance.now() > deadline) return
      const send = pick(k)
      const sent = performance.now()
      try {
        const answer = await client.request(send.to, 'POST', send.path, BODY)
        const took = performance.now() - sent
        const problem = check(answer)
        if (problem !== undefined) {
          errors++
          firstError ??= problem
          continue
        }
        ok++
        latencies.push(took)
        if (send.entryPeerId !== undefined && ranOn(answer) !== send.entryPeerId) forwarded++
      } catch (err) {
        errors++
        firstError ??= (err as Error).message
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: inFlight }, worker))
  } finally {
    client.close()
  }
  const elapsedMs = performance.now() - start
  const completed = ok
  return {
    completed,
    errors,
    firstError,
    elapsedMs,
    latencies: latencies.sort((a, b) => a - b),
    forwarded,
    perSecond: (completed / elapsedMs) * 1000,
  }
}

/** Polls until each peer sees all `peers` alive; bounded. */
async function waitForMesh(peers: readonly Peer[], timeoutMs: number): Promise<void> {
  const client = new HttpClient(peers.length)
  const ids = peers.map((p) => p.peerId)
  const deadline = performance.now() + timeoutMs
  try {
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
  } finally {
    client.close()
  }
  throw new Error(`the ${peers.length} peers did not all see each other alive in ${timeoutMs} ms`)
}

/** Which peer hosts the scheduler of `owner`, by each peer's `GET /v1/mesh/schedulers?local=1`. */
async function responsibleFor(
  client: HttpClient,
  peers: readonly Peer[],
): Promise<Map<string, string[]>> {
  const hosts = new Map<string, string[]>()
  for (const peer of peers) {
    const answer = (await client.getJson(target(peer.httpUrl), '/v1/mesh/schedulers?local=1')) as {
      schedulers?: { owner?: unknown; provider?: unknown; peerId?: unknown }[]
    }
    for (const s of answer.schedulers ?? []) {
      const owner = String(s.owner)
      hosts.set(owner, [...(hosts.get(owner) ?? []), peer.peerId])
    }
  }
  return hosts
}

async function invokeOnce(client: HttpClient, to: Target, owner: string): Promise<string> {
  const answer = await client.request(to, 'POST', invocationPath(owner), BODY)
  const problem = checkInvocation()(answer)
  if (problem !== undefined) throw new Error(`first invocation for ${owner}: ${problem}`)
  return ranOn(answer) ?? ''
}

function latencyRow(
  label: string,
  r: LatencyResult,
  targetMs?: number,
  floorP50?: number,
): string[] {
  const sorted = [...r.samples].sort((a, b) => a - b)
  const p50 = quantile(sorted, 0.5)
  const measured = `${count(r.samples.length)}${r.errors > 0 ? ` (+${r.errors} errors)` : ''}`
  const ok = r.complete && r.errors === 0
  return [
    label,
    measured,
    ms(p50),
    ms(quantile(sorted, 0.9)),
    ms(quantile(sorted, 0.99)),
    ms(sorted[sorted.length - 1] ?? Number.NaN),
    floorP50 === undefined ? '' : `${(p50 / floorP50).toFixed(1)}×`,
    targetMs === undefined ? 'floor' : `p50 ≤ ${targetMs} ms`,
    targetMs === undefined ? '' : ok ? verdict(p50, targetMs, 'le') : 'MISS',
  ]
}

async function main(): Promise<void> {
  installCleanup()
  requireBuild()
  out(machineHeader('Chorus bench:mesh — builtin/echo through 3 peers vs a plain HTTP echo'))
  const profileDir = flags.profile
    ? join(tmpdir(), `chorus-bench-profile-${process.pid}-${Date.now()}`)
    : undefined

  progress('starting the floor server and 3 peers')
  const floorChild = spawnChild('floor', process.execPath, [join(BENCH_DIR, 'floor-server.js')])
  const floorLine = await waitForLine(floorChild, /^floor http:\/\//, 10_000)
  const floor = target(floorLine.slice('floor '.length))

  const nodeArgs = (i: number): string[] => {
    if (profileDir === undefined) return []
    const dir = join(profileDir, `peer${i}`)
    mkdirSync(dir, { recursive: true })
    return ['--cpu-prof', '--cpu-prof-dir', dir]
  }
  const first = await startPeer({ label: 'peer0', nodeArgs: nodeArgs(0) })
  const rest = await Promise.all(
    Array.from({ length: PEERS - 1 }, (_, i) =>
      startPeer({ label: `peer${i + 1}`, join: first.multiaddr, nodeArgs: nodeArgs(i + 1) }),
    ),
  )
  const peers = [first, ...rest]
  await waitForMesh(peers, 20_000)
  const name = (peerId: string): string => {
    const i = peers.findIndex((p) => p.peerId === peerId)
    return i < 0 ? peerId : `peer${i}`
  }
  out(
    table(
      ['peer', 'pid', 'peer id', 'http'],
      peers.map((p, i) => [`peer${i}`, String(p.pid), p.peerId, p.httpUrl]),
    ),
  )

  // ---------------------------------------------------------------- (a) latency
  const setup = new HttpClient(4)
  await invokeOnce(setup, target(first.httpUrl), LATENCY_OWNER)
  const hosts = (await responsibleFor(setup, peers)).get(LATENCY_OWNER) ?? []
  if (hosts.length !== 1) {
    throw new Error(`expected one responsible for ${LATENCY_OWNER}, found ${hosts.length}`)
  }
  const responsibleId = hosts[0] ?? ''
  const responsible = peers.find((p) => p.peerId === responsibleId)
  const other = peers.find((p) => p.peerId !== responsibleId)
  if (!responsible || !other) throw new Error('could not tell the responsible peer from the others')
  out(
    `(a) owner ${LATENCY_OWNER}: responsible ${name(responsibleId)} (by GET /v1/mesh/schedulers?local=1); ` +
      `forwarded requests enter at ${name(other.peerId)}\n`,
  )

  const path = invocationPath(LATENCY_OWNER)
  const cases = [
    { label: 'floor: plain node:http echo', to: floor, check: checkInvocation() },
    {
      label: `direct: to the responsible (${name(responsibleId)})`,
      to: target(responsible.httpUrl),
      check: checkInvocation(responsibleId),
      targetMs: TARGET_DIRECT_P50_MS,
    },
    {
      label: `forwarded: ${name(other.peerId)} → ${name(responsibleId)}`,
      to: target(other.httpUrl),
      check: checkInvocation(responsibleId),
      targetMs: TARGET_FORWARDED_P50_MS,
    },
  ]
  const latency: LatencyResult[] = []
  for (const c of cases) {
    progress(`(a) ${c.label}: ${LATENCY_WARMUP} warm-up + ${LATENCY_REQUESTS} sequential requests`)
    await sequential(c.to, path, LATENCY_WARMUP, c.check)
    latency.push(await sequential(c.to, path, LATENCY_REQUESTS, c.check))
  }
  const floorP50 = quantile(
    [...(latency[0]?.samples ?? [])].sort((a, b) => a - b),
    0.5,
  )
  out(
    `(a) Round trip of POST …/functions/echo/invocations, one keep-alive socket, sequential, ` +
      `after ${LATENCY_WARMUP} warm-up requests`,
  )
  out(
    table(
      ['path', 'requests', 'p50', 'p90', 'p99', 'max', 'p50/floor', 'target', 'result'],
      cases.map((c, i) =>
        latencyRow(
          c.label,
          latency[i] ?? { samples: [], errors: 0, complete: false },
          c.targetMs,
          i === 0 ? undefined : floorP50,
        ),
      ),
      [1, 2, 3, 4, 5, 6],
    ),
  )
  for (const [i, r] of latency.entries()) {
    if (r.firstError !== undefined) out(`  ${cases[i]?.label}: first error: ${r.firstError}`)
  }

  // ---------------------------------------------------------------- (b) throughput
  progress(`(b) creating ${OWNERS} owners, owner i first invoked through peer i mod ${PEERS}`)
  const owners = Array.from({ length: OWNERS }, (_, i) => `bench-tp-${String(i).padStart(2, '0')}`)
  for (const [i, owner] of owners.entries()) {
    await invokeOnce(setup, target(peers[i % PEERS]?.httpUrl ?? ''), owner)
  }
  const spread = await responsibleFor(setup, peers)
  const perPeer = peers.map(
    (p) => owners.filter((o) => (spread.get(o) ?? []).includes(p.peerId)).length,
  )
  setup.close()
  const peerTargets = peers.map((p) => target(p.httpUrl))
  // Owner k mod OWNERS, entering through peer (owner + round) mod 3: every owner reaches the
  // mesh through every peer in turn, so ~1 in 3 requests lands on its responsible.
  const pickPeer = (k: number): Send => {
    const owner = k % OWNERS
    const entry = (owner + Math.floor(k / OWNERS)) % PEERS
    return {
      to: peerTargets[entry] as Target,
      path: invocationPath(owners[owner] ?? ''),
      entryPeerId: peers[entry]?.peerId ?? '',
    }
  }
  const pickFloor = (k: number): Send => ({
    to: floor,
    path: invocationPath(owners[k % OWNERS] ?? ''),
  })

  const responsibleIndex = owners.map((o) =>
    peers.findIndex((p) => p.peerId === (spread.get(o) ?? [])[0]),
  )
  if (responsibleIndex.some((r) => r < 0)) throw new Error('an owner has no responsible peer')
  /** Owner k mod OWNERS through peer `entryOf(owner index, round)`. */
  const picker =
    (entryOf: (owner: number, round: number) => number) =>
    (k: number): Send => {
      const owner = k % OWNERS
      const entry = entryOf(owner, Math.floor(k / OWNERS)) % PEERS
      return {
        to: peerTargets[entry] as Target,
        path: invocationPath(owners[owner] ?? ''),
        entryPeerId: peers[entry]?.peerId ?? '',
      }
    }
  const direct = (o: number): number => responsibleIndex[o] ?? 0
  const variants = [
    {
      label: 'mesh: rotating entry peer (target)',
      pick: pickPeer,
      target: true,
    },
    { label: 'mesh: all to the responsible', pick: picker((o) => direct(o)), target: false },
    {
      label: 'mesh: all forwarded',
      pick: picker((o, round) => direct(o) + 1 + (round % 2)),
      target: false,
    },
  ]

  interface Run {
    readonly label: string
    readonly result: ThroughputResult
    /** CPU ms of the server process(es) and of this client, per completed request. */
    readonly serverCpuPerRequest: number
    readonly clientCpuPerRequest: number
    readonly serverCpuMs: readonly number[]
    readonly target: boolean
  }
  const measure = async (
    label: string,
    pick: (k: number) => Send,
    pids: readonly number[],
    withTarget: boolean,
  ): Promise<Run> => {
    progress(
      `(b) ${label}: ${THROUGHPUT_WARMUP} warm-up + ${THROUGHPUT_REQUESTS} requests, ${IN_FLIGHT} in flight`,
    )
    await closedLoop(THROUGHPUT_WARMUP, IN_FLIGHT, pick, checkInvocation())
    const before = pids.map(cpuTimeMs)
    const clientBefore = cpuTimeMs(process.pid)
    const result = await closedLoop(THROUGHPUT_REQUESTS, IN_FLIGHT, pick, checkInvocation())
    const serverCpuMs = pids.map((pid, i) => cpuTimeMs(pid) - (before[i] ?? Number.NaN))
    const n = Math.max(1, result.completed)
    return {
      label,
      result,
      serverCpuMs,
      serverCpuPerRequest: serverCpuMs.reduce((a, b) => a + b, 0) / n,
      clientCpuPerRequest: (cpuTimeMs(process.pid) - clientBefore) / n,
      target: withTarget,
    }
  }
  const runs: Run[] = [
    await measure('floor: plain node:http echo', pickFloor, [floorChild.pid], false),
  ]
  // Every peer's hot paths compiled and every (owner, entry peer) route cached before any
  // measured mesh run, so the first variant measured pays no more warm-up than the others.
  progress(`(b) mesh warm-up: ${MESH_WARMUP} requests, rotating entry peer`)
  await closedLoop(MESH_WARMUP, IN_FLIGHT, pickPeer, checkInvocation())
  for (const v of variants) {
    runs.push(
      await measure(
        v.label,
        v.pick,
        peers.map((p) => p.pid),
        v.target,
      ),
    )
  }
  const floorTp = runs[0]?.result
  const meshTp = runs[1]?.result

  out(
    `\n(b) Throughput: ${count(THROUGHPUT_REQUESTS)} requests after ${count(THROUGHPUT_WARMUP)} warm-up, ` +
      `${IN_FLIGHT} in flight (node:http keep-alive Agent, one client process)`,
  )
  out(
    `    ${OWNERS} owners; responsibles: ${peers.map((_, i) => `peer${i} ${perPeer[i]}`).join(', ')}; ` +
      `the target row sends each owner's requests through the 3 peers in turn`,
  )
  const tpRow = (run: Run): string[] => {
    const r = run.result
    const isFloor = run === runs[0]
    return [
      run.label,
      `${count(r.completed)}${r.errors > 0 ? ` (+${r.errors} errors)` : ''}`,
      (r.elapsedMs / 1000).toFixed(2),
      `${count(r.perSecond)}/s`,
      ms(quantile(r.latencies, 0.5), 2),
      ms(quantile(r.latencies, 0.99), 2),
      isFloor ? '' : `${((r.forwarded / Math.max(1, r.completed)) * 100).toFixed(0)}%`,
      ms(run.serverCpuPerRequest, 3),
      ms(run.clientCpuPerRequest, 3),
      isFloor ? 'floor' : run.target ? `≥ ${count(TARGET_THROUGHPUT)}/s` : '',
      run.target
        ? r.errors === 0 && r.completed === THROUGHPUT_REQUESTS
          ? verdict(r.perSecond, TARGET_THROUGHPUT, 'ge')
          : 'MISS'
        : '',
    ]
  }
  out(
    table(
      [
        'server',
        'completed',
        'seconds',
        'rate',
        'p50',
        'p99',
        'forwarded',
        'server CPU/req',
        'client CPU/req',
        'target',
        'result',
      ],
      runs.map(tpRow),
      [1, 2, 3, 4, 5, 6, 7, 8],
    ),
  )
  if (floorTp && meshTp) {
    out(`    target row rate / floor rate: ${(meshTp.perSecond / floorTp.perSecond).toFixed(2)}`)
  }
  for (const run of runs) {
    if (run.result.firstError !== undefined) {
      out(`    ${run.label}: first error: ${run.result.firstError}`)
    }
  }
  out(
    '    server CPU/req: CPU time (user + system) of the server process(es) — the floor, or all 3 peers — per request;',
  )
  out(
    `    the machine has ${cpus().length} cores, so at full use a rate of ${count(TARGET_THROUGHPUT)}/s allows ` +
      `${ms((cpus().length * 1000) / TARGET_THROUGHPUT, 3)} of CPU per request for the peers and the client together`,
  )
  const targetRun = runs[1]
  if (targetRun) {
    out(
      `    target row, per peer: ${peers
        .map(
          (_, i) =>
            `peer${i} ${(((targetRun.serverCpuMs[i] ?? 0) / targetRun.result.elapsedMs) * 100).toFixed(0)}% of a core`,
        )
        .join(', ')}`,
    )
  }

  // ---------------------------------------------------------------- profile
  if (profileDir !== undefined) {
    progress('stopping the peers with SIGINT so they write their CPU profiles')
    await Promise.all(peers.map((p) => p.kill('SIGINT', 10_000)))
    const summary = summarizeProfiles(profileDir)
    const total = summary.busyMs
    out(
      `\nCPU profile of the 3 peers (whole run, ${summary.files} files in ${profileDir}; ` +
        `busy ${(total / 1000).toFixed(1)} s, idle ${(summary.idleMs / 1000).toFixed(1)} s); ` +
        `figures above were measured under the profiler`,
    )
    out('Self time by module:')
    out(
      table(
        ['module', 'self', 'share'],
        summary.byModule
          .slice(0, 20)
          .map((m) => [m.module, ms(m.selfMs, 0), `${((m.selfMs / total) * 100).toFixed(1)}%`]),
        [1, 2],
      ),
    )
    out(
      'Self time charged to the nearest package or Chorus file (Node internals count for their caller):',
    )
    out(
      table(
        ['charged to', 'self', 'share'],
        summary.byCaller
          .slice(0, 20)
          .map((m) => [m.module, ms(m.selfMs, 0), `${((m.selfMs / total) * 100).toFixed(1)}%`]),
        [1, 2],
      ),
    )
    out('Top functions by self time:')
    out(
      table(
        ['function', 'where', 'self', 'share'],
        summary.byFunction
          .slice(0, 30)
          .map((f) => [
            f.name,
            f.where,
            ms(f.selfMs, 0),
            `${((f.selfMs / total) * 100).toFixed(1)}%`,
          ]),
        [2, 3],
      ),
    )
  }
}

main()
  .then(() => shutdown(0))
  .catch((err: unknown) => {
    if (isShuttingDown()) return
    process.stderr.write(
      `bench:mesh failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    return shutdown(1)
  })
