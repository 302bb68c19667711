/**
 * bench:gossip — membership at 20 processes on 127.0.0.1, Chorus next to HashiCorp Serf
 * (Debian's `serf` agents, same run, same machine).
 *
 *  (a) Convergence: 20 processes started (19 join through the first) until every one sees
 *      all 20 alive. Each process is polled every 20 ms from the moment it printed its banner
 *      (Chorus: `GET /v1/mesh/peers`; Serf: the `members` RPC that `serf members` uses, over
 *      one connection per agent); the time is when the last of them was first seen converged,
 *      counted from the last banner and from the first process start.
 *  (b) Failure detection: `kill -9` of one process (not the bootstrap) until every other one
 *      reports it dead (Serf: failed), polled every 20 ms.
 *  (c) The same for Serf, when the `serf` binary is installed (apt-get install serf).
 *  (d) --soak: 20 Chorus peers, one of which blocks its event loop for 400 ms every 2 s (a
 *      preload, bench/stall.js, so the peer's code is untouched), for 5 minutes; every peer's
 *      `GET /v1/events` stream is read and every peer is polled every 250 ms, and any peer
 *      reported dead (or suspect, counted apart) by anyone is a false positive.
 *
 * Flags: --soak, --soak-seconds N (default 300), --peers N (default 20), --skip-serf.
 * Run: npm run bench:gossip [-- --soak]   or   npm run bench:gossip:soak
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { SerfRpc, freePort } from './serf.js'
import {
  BENCH_DIR,
  HttpClient,
  cpuTimeMs,
  installCleanup,
  isShuttingDown,
  machineHeader,
  makeTempDir,
  meshPeers,
  median,
  out,
  progress,
  privateMiB,
  rssMiB,
  seconds,
  shutdown,
  sleep,
  spawnChild,
  startPeer,
  table,
  target,
  verdict,
  waitForLine,
  type Child,
  type Peer,
} from './support.js'

const SOAK_POLL_MS = 250
/** Bounds of each phase, whatever happens. */
/** From a process's spawn to its banner. */
const BANNER_LIMIT_MS = 120_000
/** After the last banner. */
const CONVERGE_LIMIT_MS = 30_000
const DETECT_LIMIT_MS = 60_000
/** Between convergence and the kill: the mesh settles (joining leaves a burst of work behind). */
const SETTLE_MS = 15_000
/** CPU at rest is measured over the last this-many ms of the settling. */
const REST_WINDOW_MS = 5_000
/** Reference figures from shared/reference/targets.md, used when serf is not installed. */
const SERF_REFERENCE = { convergenceMs: 400, detectionMs: 6_600 }

const { values: flags } = parseArgs({
  options: {
    soak: { type: 'boolean', default: false },
    'soak-seconds': { type: 'string', default: '300' },
    peers: { type: 'string', default: '20' },
    'skip-serf': { type: 'boolean', default: false },
    'poll-ms': { type: 'string', default: '100' },
    'serf-poll-ms': { type: 'string', default: '20' },
  },
})
/**
 * A Chorus poll (GET /v1/mesh/peers, ~3 KB of JSON) costs the peer ~0.7 ms of CPU: 20 peers
 * polled every 20 ms would take ~0.7 of this machine's 2 cores away from the peers being
 * measured (enough to make a mesh started at once miss its joins). A Serf members RPC costs
 * its agent next to nothing, so Serf is polled more often; coarser polling only makes Chorus
 * look slower.
 */
const POLL_MS = Number(flags['poll-ms'])
const SERF_POLL_MS = Number(flags['serf-poll-ms'])
if (!Number.isFinite(SERF_POLL_MS) || SERF_POLL_MS < 1 || SERF_POLL_MS > 5_000) {
  throw new Error('--serf-poll-ms must be 1 to 5000')
}
if (!Number.isFinite(POLL_MS) || POLL_MS < 1 || POLL_MS > 5_000)
  throw new Error('--poll-ms must be 1 to 5000')
const N = Number(flags.peers)
const SOAK_MS = Number(flags['soak-seconds']) * 1000
if (!Number.isSafeInteger(N) || N < 3 || N > 100) throw new Error('--peers must be 3 to 100')
if (!Number.isFinite(SOAK_MS) || SOAK_MS <= 0 || SOAK_MS > 3_600_000) {
  throw new Error('--soak-seconds must be between 1 and 3600')
}
const VICTIM = Math.floor(N / 2)

// ------------------------------------------------------------------ watching members

/** One process's view: member name → state ('alive', 'suspect', 'dead', 'failed', 'left'…). */
type View = ReadonlyMap<string, string>

interface Observed {
  /** Who this process is, as members name it. */
  readonly name: string
  readonly label: string
  poll(): Promise<View>
  close(): void
}

/** Polls one process every `everyMs` until stopped; calls `onView` with each answer. */
class Watcher {
  #stopped = false
  #loop: Promise<void> | undefined
  polls = 0
  failures = 0
  lastError: string | undefined
  slowestMs = 0

  constructor(
    readonly observed: Observed,
    readonly everyMs: number,
    readonly onView: (view: View, at: number) => void,
  ) {}

  start(): this {
    this.#loop = this.#run()
    return this
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#loop
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const sent = performance.now()
      try {
        const view = await this.observed.poll()
        const at = performance.now()
        this.slowestMs = Math.max(this.slowestMs, at - sent)
        this.polls++
        if (!this.#stopped) this.onView(view, at)
      } catch (err) {
        this.failures++
        this.lastError = (err as Error).message
      }
      const wait = this.everyMs - (performance.now() - sent)
      if (wait > 0 && !this.#stopped) await sleep(wait)
    }
  }
}

interface Convergence {
  readonly fromFirstStartMs: number
  readonly fromLastBannerMs: number
  /** Banner times from the first start, in start order. */
  readonly bannersMs: readonly number[]
  readonly converged: boolean
  readonly notConverged: readonly string[]
  /** Non-alive states seen for a member while joining (observer → member: state). */
  readonly falsePositives: readonly string[]
  readonly polls: number
  readonly pollFailures: number
  readonly slowestPollMs: number
}

interface Detection {
  readonly allDetectedMs: number
  readonly firstSuspectMs: number
  readonly firstDetectedMs: number
  readonly medianDetectedMs: number
  readonly detectedBy: number
  readonly observers: number
  readonly falsePositives: readonly string[]
  readonly polls: number
}

/**
 * Starts `count` processes via `start(i)` (the first alone, then the rest at once, or one
 * after another when `sequential`: each once the previous printed its banner), watches
 * each from its banner on, and resolves when every one sees all `count` alive (or at the limit).
 */
async function converge(
  count: number,
  start: (i: number) => Promise<{ observed: Observed; bannerAt: number }>,
  firstStart: number,
  aliveState: string,
  sequential: boolean,
  pollMs: number,
): Promise<{ observed: Observed[]; result: Convergence }> {
  const watchers: Watcher[] = []
  const observed: (Observed | undefined)[] = Array.from({ length: count }, () => undefined)
  const bannerAt: number[] = []
  let started = 0
  const names = (): string[] => observed.flatMap((o) => (o ? [o.name] : []))
  const firstConverged = new Map<string, number>()
  const falsePositives = new Set<string>()
  let allConverged: () => void = () => undefined
  const done = new Promise<void>((resolve) => (allConverged = resolve))
  const watch = (o: Observed): void => {
    const w = new Watcher(o, pollMs, (view, at) => {
      for (const [member, state] of view) {
        if (state !== aliveState && member !== o.name)
          falsePositives.add(`${o.label} saw ${member}: ${state}`)
      }
      if (started < count || firstConverged.has(o.name)) return
      const all = names()
      if (all.every((n) => n === o.name || view.get(n) === aliveState)) {
        firstConverged.set(o.name, at)
        if (firstConverged.size === count) allConverged()
      }
    })
    watchers.push(w.start())
  }
  const first = await start(0)
  observed[0] = first.observed
  bannerAt[0] = first.bannerAt
  started++
  watch(first.observed)
  const startOne = async (i: number): Promise<void> => {
    const one = await start(i)
    observed[i] = one.observed
    bannerAt[i] = one.bannerAt
    started++
    watch(one.observed)
  }
  if (sequential) for (let i = 1; i < count; i++) await startOne(i)
  else await Promise.all(Array.from({ length: count - 1 }, (_, k) => startOne(k + 1)))
  const lastBanner = Math.max(...bannerAt)
  await Promise.race([done, sleep(CONVERGE_LIMIT_MS)])
  await Promise.all(watchers.map((w) => w.stop()))
  const all = observed.filter((o): o is Observed => o !== undefined)
  const converged = firstConverged.size === count
  const at = converged ? Math.max(...firstConverged.values()) : Number.NaN
  const labelOf = new Map(all.map((o) => [o.name, o.label]))
  return {
    observed: all,
    result: {
      fromFirstStartMs: at - firstStart,
      fromLastBannerMs: at - lastBanner,
      bannersMs: bannerAt.map((b) => b - firstStart),
      converged,
      notConverged: all
        .filter((o) => !firstConverged.has(o.name))
        .map((o) => labelOf.get(o.name) ?? o.name),
      // A member seen 'suspect' by someone while 20 processes start on 2 cores.
      falsePositives: [...falsePositives],
      polls: watchers.reduce((n, w) => n + w.polls, 0),
      pollFailures: watchers.reduce((n, w) => n + w.failures, 0),
      slowestPollMs: Math.max(...watchers.map((w) => w.slowestMs)),
    },
  }
}

/** Kills `victim` with SIGKILL and waits until every other process reports it `deadState`. */
async function detect(
  victim: Child,
  victimName: string,
  others: readonly Observed[],
  deadState: string,
  suspectState: string | undefined,
  pollMs: number,
): Promise<Detection> {
  const firstSuspect = new Map<string, number>()
  const firstDead = new Map<string, number>()
  const falsePositives = new Set<string>()
  let allDead: () => void = () => undefined
  const done = new Promise<void>((resolve) => (allDead = resolve))
  const killedAt = performance.now()
  process.kill(victim.pid, 'SIGKILL')
  const watchers = others.map((o) =>
    new Watcher(o, pollMs, (view, at) => {
      for (const [member, state] of view) {
        if (member !== victimName && member !== o.name && state !== 'alive') {
          falsePositives.add(`${o.label} saw ${member}: ${state}`)
        }
      }
      const state = view.get(victimName)
      if (state === suspectState && !firstSuspect.has(o.name)) firstSuspect.set(o.name, at)
      if (state === deadState && !firstDead.has(o.name)) {
        firstDead.set(o.name, at)
        if (firstDead.size === others.length) allDead()
      }
    }).start(),
  )
  await Promise.race([done, sleep(DETECT_LIMIT_MS)])
  await Promise.all(watchers.map((w) => w.stop()))
  await victim.exited
  const times = [...firstDead.values()].map((t) => t - killedAt)
  return {
    allDetectedMs: firstDead.size === others.length ? Math.max(...times) : Number.NaN,
    firstSuspectMs:
      firstSuspect.size > 0 ? Math.min(...firstSuspect.values()) - killedAt : Number.NaN,
    firstDetectedMs: times.length > 0 ? Math.min(...times) : Number.NaN,
    medianDetectedMs: times.length > 0 ? median(times) : Number.NaN,
    detectedBy: firstDead.size,
    observers: others.length,
    falsePositives: [...falsePositives],
    polls: watchers.reduce((n, w) => n + w.polls, 0),
  }
}

// ------------------------------------------------------------------ Chorus

function observePeer(peer: Peer, label: string, client: HttpClient): Observed {
  const to = target(peer.httpUrl)
  return {
    name: peer.peerId,
    label,
    poll: async () => {
      const answer = await meshPeers(client, to, 2_000)
      return new Map(answer.peers.map((m) => [m.peerId, m.state]))
    },
    close: () => undefined,
  }
}

interface ChorusMesh {
  readonly peers: Peer[]
  readonly observed: Observed[]
  readonly client: HttpClient
  readonly convergence: Convergence
}

/** Stderr lines of a peer worth counting as evidence (libp2p's are on with DEBUG, below). */
const PEER_EVIDENCE = {
  joinFailed: /could not join through/,
  refusedRate: /refused - inboundConnectionThreshold exceeded/,
  refusedPending: /refused - incomingPendingConnections exceeded/,
  refusedMax: /refused - maxConnections exceeded/,
  noAddresses: /no valid addresses/,
} as const

interface StartMeshOptions {
  /** false: the joiners all start at once; true: each once the previous printed its banner. */
  readonly sequential: boolean
  readonly nodeArgsFor?: (i: number) => string[]
  readonly envFor?: (i: number) => Record<string, string>
  /** Called with each peer as soon as it printed its banner. */
  readonly onPeer?: (peer: Peer) => void
}

async function startChorusMesh(count: number, options: StartMeshOptions): Promise<ChorusMesh> {
  const client = new HttpClient(count)
  const peers: Peer[] = []
  const firstStart = performance.now()
  let bootstrap = ''
  const { observed, result } = await converge(
    count,
    async (i) => {
      const peer = await startPeer({
        label: `peer${i}`,
        ...(i === 0 ? {} : { join: bootstrap }),
        nodeArgs: options.nodeArgsFor?.(i) ?? [],
        // Only the connection manager's log: it says why a connection was refused.
        env: { DEBUG: 'libp2p:connection-manager', ...options.envFor?.(i) },
        countStderr: PEER_EVIDENCE,
        // 20 processes loading the libp2p stack at once on 2 shared cores can take this long.
        timeoutMs: BANNER_LIMIT_MS,
      })
      if (i === 0) bootstrap = peer.multiaddr
      options.onPeer?.(peer)
      peers[i] = peer
      return { observed: observePeer(peer, `peer${i}`, client), bannerAt: peer.bannerAt }
    },
    firstStart,
    'alive',
    options.sequential,
    POLL_MS,
  )
  return { peers, observed, client, convergence: result }
}

/** What the peers' stderr says about joining, summed over the peers. */
function evidence(
  peers: readonly Peer[],
): Record<keyof typeof PEER_EVIDENCE, number> & { joinersFailed: number; joinFailures: string[] } {
  const sum = (key: keyof typeof PEER_EVIDENCE): number =>
    peers.reduce((n, p) => n + (p.stderrCounts()[key] ?? 0), 0)
  return {
    joinFailed: sum('joinFailed'),
    joinersFailed: peers.filter((p) => (p.stderrCounts().joinFailed ?? 0) > 0).length,
    joinFailures: [
      ...new Set(
        peers.flatMap((p) =>
          (p.stderrSamples().joinFailed ?? []).map((l) =>
            l.replace(/\/p2p\/\w+/g, '/p2p/…').replace(/tcp\/\d+/g, 'tcp/…'),
          ),
        ),
      ),
    ].slice(0, 3),
    refusedRate: sum('refusedRate'),
    refusedPending: sum('refusedPending'),
    refusedMax: sum('refusedMax'),
    noAddresses: sum('noAddresses'),
  }
}

function evidenceLine(e: ReturnType<typeof evidence>): string {
  return (
    `${e.joinersFailed} of ${N - 1} joiners logged 'could not join through <bootstrap>'; ` +
    `connections refused by libp2p's connection manager: ${e.refusedRate} for inboundConnectionThreshold ` +
    `(libp2p's default is 5 per second per IP, and every peer here is 127.0.0.1), ${e.refusedPending} for ` +
    `incomingPendingConnections, ${e.refusedMax} for maxConnections; ` +
    `${e.noAddresses} sends failed with 'no valid addresses'` +
    (e.joinFailures.length > 0 ? `; e.g. ${e.joinFailures.map((l) => `"${l}"`).join(', ')}` : '')
  )
}

/** CPU (% of one core), RSS and private memory (MiB) of each process over `windowMs` of no polling. */
async function idleUsage(
  pids: readonly number[],
  windowMs: number,
): Promise<{ cpu: number[]; rss: number[]; private: number[] }> {
  const before = pids.map(cpuTimeMs)
  const started = performance.now()
  await sleep(windowMs)
  const elapsed = performance.now() - started
  const cpu = pids.map((pid, i) => ((cpuTimeMs(pid) - (before[i] ?? 0)) / elapsed) * 100)
  return { cpu, rss: pids.map(rssMiB), private: pids.map(privateMiB) }
}

async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.kill('SIGKILL')))
}

// ------------------------------------------------------------------ Serf

function serfInstalled(): string | undefined {
  try {
    return execFileSync('which', ['serf']).toString().trim() || undefined
  } catch {
    return undefined
  }
}

function serfVersion(): string {
  try {
    return execFileSync('serf', ['version']).toString().split('\n')[0]?.trim() ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

interface SerfAgent extends Child {
  readonly name: string
  readonly rpcPort: number
}

async function runSerf(
  count: number,
): Promise<{ convergence: Convergence; detection: Detection; checkedWithCli: string }> {
  // The kernel may hand back a port it gave a moment ago (nothing holds it yet): pick again.
  const taken = new Set<number>()
  const distinctPort = async (udpToo: boolean): Promise<number> => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await freePort('127.0.0.1', udpToo)
      if (!taken.has(port)) {
        taken.add(port)
        return port
      }
    }
    throw new Error('could not pick distinct free ports for the serf agents')
  }
  const binds: number[] = []
  const rpcs: number[] = []
  for (let i = 0; i < count; i++) {
    binds.push(await distinctPort(true))
    rpcs.push(await distinctPort(false))
  }
  const agents: SerfAgent[] = []
  const firstStart = performance.now()
  try {
    const { observed, result } = await converge(
      count,
      async (i) => {
        const name = `n${i}`
        const args = [
          'agent',
          `-node=${name}`,
          `-bind=127.0.0.1:${binds[i]}`,
          `-rpc-addr=127.0.0.1:${rpcs[i]}`,
          '-log-level=warn',
          ...(i === 0 ? [] : [`-join=127.0.0.1:${binds[0]}`]),
        ]
        const c = spawnChild(`serf ${name}`, 'serf', args)
        await waitForLine(c, /Serf agent running!/, 30_000)
        const bannerAt = performance.now()
        const agent = { ...c, name, rpcPort: rpcs[i] ?? 0 }
        agents[i] = agent
        const rpc = await SerfRpc.connect('127.0.0.1', agent.rpcPort)
        const o: Observed = {
          name,
          label: name,
          poll: async () => new Map((await rpc.members()).map((m) => [m.name, m.status])),
          close: () => rpc.close(),
        }
        return { observed: o, bannerAt }
      },
      firstStart,
      'alive',
      false,
      SERF_POLL_MS,
    )
    // Cross-check one agent with the real CLI.
    const checkedWithCli = execFileSync('serf', [
      'members',
      `-rpc-addr=127.0.0.1:${rpcs[0]}`,
      '-status=alive',
    ])
      .toString()
      .trim()
      .split('\n').length
    await sleep(SETTLE_MS)
    const victim = agents[VICTIM]
    if (!victim) throw new Error('no victim agent')
    const others = observed.filter((o) => o.name !== victim.name)
    const detection = await detect(victim, victim.name, others, 'failed', 'suspect', SERF_POLL_MS)
    for (const o of observed) o.close()
    return {
      convergence: result,
      detection,
      checkedWithCli: `serf members -rpc-addr=…:${rpcs[0]} -status=alive listed ${checkedWithCli} agents after convergence`,
    }
  } finally {
    await stopAll(agents.filter((a): a is SerfAgent => a !== undefined))
  }
}

// ------------------------------------------------------------------ soak

interface MemberEvent {
  readonly type: string
  readonly observer: string
  readonly member: string
  /** ms since the soak's first start. */
  readonly at: number
}

/** Reads `GET /v1/events` of a peer; calls `onEvent` for member-* events until `close()`. */
function subscribe(
  peer: Peer,
  onEvent: (type: string, data: Record<string, unknown>) => void,
): { close(): void; errors: () => string[] } {
  const errors: string[] = []
  const to = target(peer.httpUrl)
  let response: IncomingMessage | undefined
  let closed = false
  const req = httpRequest(
    { host: to.host, port: to.port, path: '/v1/events', agent: false },
    (res) => {
      response = res
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const type = /^event: (.+)$/m.exec(block)?.[1]
          const data = /^data: (.+)$/m.exec(block)?.[1]
          if (type === undefined || data === undefined) continue
          try {
            onEvent(type, JSON.parse(data) as Record<string, unknown>)
          } catch (err) {
            errors.push(`bad event from ${peer.label}: ${(err as Error).message}`)
          }
        }
      })
      res.on('close', () => {
        if (!closed) errors.push(`${peer.label}: event stream closed`)
      })
    },
  )
  req.on('error', (err) => {
    if (!closed) errors.push(`${peer.label}: ${err.message}`)
  })
  req.end()
  return {
    close: () => {
      closed = true
      response?.destroy()
      req.destroy()
    },
    errors: () => errors,
  }
}

async function soak(): Promise<void> {
  const STALLED = 7 % N
  const stallLog = join(makeTempDir('chorus-bench-stall-'), 'stalls.log')
  out(
    `\n(d) Soak: ${N} Chorus peers (started one by one, see (a)) for ${seconds(SOAK_MS, 0)}; peer${STALLED} runs under`,
  )
  out(
    `    node --import packages/node/bench/stall.js (busy-waits 400 ms every 2 s, from its start)`,
  )
  const events: MemberEvent[] = []
  const streams: { close(): void; errors: () => string[] }[] = []
  const soakStart = performance.now()
  const peerLabel = new Map<string, string>()
  /** Each peer's banner, in ms since the soak's first start. */
  const bannerAt = new Map<string, number>()
  // Subscribe to each peer's events as soon as it is up (before the mesh has converged).
  const onStarted = (peer: Peer): void => {
    peerLabel.set(peer.peerId, peer.label)
    bannerAt.set(peer.peerId, peer.bannerAt - soakStart)
    streams.push(
      subscribe(peer, (type, data) => {
        if (!type.startsWith('member-')) return
        events.push({
          type,
          observer: peer.peerId,
          member: String(data.member),
          at: performance.now() - soakStart,
        })
      }),
    )
  }
  const mesh = await startChorusMesh(N, {
    sequential: true,
    onPeer: onStarted,
    nodeArgsFor: (i) => (i === STALLED ? ['--import', join(BENCH_DIR, 'stall.js')] : []),
    envFor: (i): Record<string, string> =>
      i === STALLED ? { CHORUS_BENCH_STALL_LOG: stallLog } : {},
  })
  if (!mesh.convergence.converged) {
    throw new Error(`the soak's mesh did not converge: ${evidenceLine(evidence(mesh.peers))}`)
  }
  const stalledId = mesh.peers[STALLED]?.peerId ?? ''
  const joinedAt = performance.now() - soakStart
  out(
    `    converged: ${mesh.convergence.converged ? 'yes' : 'NO'} after ${seconds(mesh.convergence.fromFirstStartMs)} from the first start` +
      ` (each peer's event stream is read from its banner on; polling starts now)` +
      (mesh.convergence.falsePositives.length > 0
        ? `; while joining: ${mesh.convergence.falsePositives.slice(0, 5).join('; ')}`
        : '; nobody was reported suspect or dead while joining'),
  )
  const rssStart = mesh.peers.map((p) => rssMiB(p.pid))
  const cpuStart = mesh.peers.map((p) => cpuTimeMs(p.pid))
  // Poll every peer every 250 ms: every non-alive state anyone reports is recorded.
  const polled = new Map<string, { count: number; first: number; last: number }>()
  const stalledPollMs: number[] = []
  const watchers = mesh.observed.map((o) =>
    new Watcher(o, SOAK_POLL_MS, (view, at) => {
      for (const [member, state] of view) {
        if (state === 'alive' || member === o.name) continue
        const key = `${state}\u0000${o.name}\u0000${member}`
        const t = at - soakStart
        const seen = polled.get(key)
        if (seen) {
          seen.count++
          seen.last = t
        } else polled.set(key, { count: 1, first: t, last: t })
      }
    }).start(),
  )
  const windowStart = performance.now()
  const windowEnd = windowStart + SOAK_MS
  let lastReport = windowStart
  while (performance.now() < windowEnd) {
    await sleep(Math.min(1_000, windowEnd - performance.now()))
    const exited = mesh.peers.filter(
      (p) => p.child.exitCode !== null || p.child.signalCode !== null,
    )
    if (exited.length > 0)
      throw new Error(
        `peer(s) exited during the soak: ${exited.map((p) => `${p.label}: ${p.stderrTail()}`).join('\n')}`,
      )
    if (performance.now() - lastReport >= 30_000) {
      lastReport = performance.now()
      const dead = events.filter((e) => e.type === 'member-dead').length
      const suspect = events.filter((e) => e.type === 'member-suspect').length
      progress(
        `soak ${seconds(performance.now() - windowStart, 0)}: ${dead} dead / ${suspect} suspect events so far`,
      )
    }
  }
  const windowMs = performance.now() - windowStart
  await Promise.all(watchers.map((w) => w.stop()))
  const stalledWatcher = watchers[STALLED]
  if (stalledWatcher) stalledPollMs.push(stalledWatcher.slowestMs)
  const cpuEnd = mesh.peers.map((p) => cpuTimeMs(p.pid))
  const rssEnd = mesh.peers.map((p) => rssMiB(p.pid))
  for (const s of streams) s.close()
  const streamErrors = streams.flatMap((s) => s.errors())
  await stopAll(mesh.peers)
  mesh.client.close()

  const stalls = readStalls(stallLog)
  const label = (id: string): string => peerLabel.get(id) ?? id
  const windowFrom = windowStart - soakStart
  const row = (what: string, type: string, pollState: string): string[] => {
    const evs = events.filter((e) => e.type === type)
    const inWindow = evs.filter((e) => e.at >= windowFrom)
    const aboutStalled = inWindow.filter((e) => e.member === stalledId)
    const pollKeys = [...polled.keys()].filter((k) => k.startsWith(`${pollState}\u0000`))
    return [
      what,
      String(evs.length - inWindow.length),
      String(inWindow.length),
      String(aboutStalled.length),
      String(inWindow.length - aboutStalled.length),
      String(pollKeys.length),
    ]
  }
  out(
    `    window: ${seconds(windowMs, 1)} after convergence (joined at ${seconds(joinedAt)}); ` +
      `stalls executed by peer${STALLED}: ${stalls.length}, each ${stalls.length > 0 ? `${Math.min(...stalls).toFixed(0)}–${Math.max(...stalls).toFixed(0)} ms` : 'n/a'}; ` +
      `slowest poll answer from peer${STALLED}: ${stalledPollMs[0]?.toFixed(0) ?? 'n/a'} ms`,
  )
  const deadTotal = events.filter((e) => e.type === 'member-dead').length
  const deadPolled = [...polled.keys()].filter((k) => k.startsWith('dead\u0000')).length
  const deadFalsePositives = deadTotal + deadPolled
  out(
    table(
      [
        'event',
        'while joining',
        'in the window',
        'about the stalled peer',
        'about others',
        'observer/member pairs seen by polling',
      ],
      [
        row('member-dead', 'member-dead', 'dead'),
        row('member-suspect', 'member-suspect', 'suspect'),
        row('member-left', 'member-left', 'left'),
        row('member-joined (not an error)', 'member-joined', 'joined'),
      ],
      [1, 2, 3, 4, 5],
    ),
  )
  out(
    table(
      ['soak target', 'measured', 'target', 'result'],
      [
        [
          'reports of a peer dead (events + polled pairs, whole run)',
          String(deadFalsePositives),
          '0',
          verdict(deadFalsePositives, 0, 'le'),
        ],
      ],
      [1, 2],
    ),
  )
  const suspicions = events.filter((e) => e.type === 'member-dead' || e.type === 'member-suspect')
  const joining = suspicions.filter((e) => e.at < windowFrom)
  if (joining.length > 0) {
    // How old was the suspected peer? A peer suspected right after its own start was busy starting.
    const ages = joining.map((e) => e.at - (bannerAt.get(e.member) ?? Number.NaN))
    const young = ages.filter((a) => a >= 0 && a <= 5_000).length
    const members = new Set(joining.map((e) => e.member))
    out(
      `    while joining: ${joining.length} suspect/dead events about ${members.size} peer(s); ${young} of them ` +
        `came within 5 s of the suspected peer's own banner (median ${seconds(median(ages))} after it)`,
    )
  }
  const deadEvents = events.filter((e) => e.type === 'member-dead')
  if (deadEvents.length > 0) {
    out('    every member-dead event (time since the first start, observer → member, member age):')
    for (const e of deadEvents.slice(0, 20)) {
      const age = e.at - (bannerAt.get(e.member) ?? Number.NaN)
      out(
        `      ${seconds(e.at)}  ${label(e.observer)} → ${label(e.member)} (${seconds(age)} after its banner)`,
      )
    }
  }
  const inWindowEvents = suspicions.filter((e) => e.at >= windowFrom)
  if (inWindowEvents.length > 0) {
    out('    suspect/dead events in the window (time since the first start, observer → member):')
    for (const e of inWindowEvents.slice(0, 20)) {
      out(`      ${seconds(e.at)}  ${e.type.padEnd(14)} ${label(e.observer)} → ${label(e.member)}`)
    }
  }
  const cpuPct = mesh.peers.map(
    (_, i) => (((cpuEnd[i] ?? 0) - (cpuStart[i] ?? 0)) / windowMs) * 100,
  )
  const growth = mesh.peers.map((_, i) => (rssEnd[i] ?? 0) - (rssStart[i] ?? 0))
  out(
    `    during the window: peer CPU median ${median(cpuPct).toFixed(1)}% of a core (peer${STALLED}: ${cpuPct[STALLED]?.toFixed(1)}%, ` +
      `total ${cpuPct.reduce((a, b) => a + b, 0).toFixed(0)}%); RSS median ${median(rssEnd).toFixed(0)} MiB, ` +
      `growth median ${median(growth).toFixed(1)} MiB, max ${Math.max(...growth).toFixed(1)} MiB`,
  )
  if (streamErrors.length > 0)
    out(`    event stream problems: ${streamErrors.slice(0, 5).join('; ')}`)
}

/** The lengths of the stalls the preload logged, in ms. */
function readStalls(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Number(l.split(' ')[1]))
  } catch {
    return []
  }
}

// ------------------------------------------------------------------ report

/** The time, or how many had not converged by the limit. */
function convergedIn(c: Convergence, which: 'fromLastBannerMs' | 'fromFirstStartMs'): string {
  if (c.converged) return seconds(c[which])
  return `${N - c.notConverged.length}/${N} in ${CONVERGE_LIMIT_MS / 1000} s`
}

function convergenceDetail(name: string, c: Convergence): string {
  const banners = [...c.bannersMs].sort((a, b) => a - b)
  return (
    `${name}: banners at ${seconds(banners[0] ?? Number.NaN)} (first) … ${seconds(median(banners))} (median) … ` +
    `${seconds(banners[banners.length - 1] ?? Number.NaN)} (last) after the first start; ` +
    `${c.polls} polls, ${c.pollFailures} failed, slowest answer ${c.slowestPollMs.toFixed(0)} ms` +
    (c.converged ? '' : `; NOT converged: ${c.notConverged.join(', ')}`) +
    (c.falsePositives.length > 0
      ? `; while joining: ${c.falsePositives.slice(0, 5).join('; ')}${c.falsePositives.length > 5 ? ` (+${c.falsePositives.length - 5})` : ''}`
      : '')
  )
}

function detectionDetail(
  name: string,
  d: Detection,
  deadWord: string,
  suspectShown = true,
): string {
  return (
    `${name}: ${d.detectedBy}/${d.observers} reported it ${deadWord}; first suspect ${Number.isFinite(d.firstSuspectMs) ? seconds(d.firstSuspectMs) : suspectShown ? 'none seen' : 'not shown by serf members'}, ` +
    `first ${deadWord} ${seconds(d.firstDetectedMs)}, median ${seconds(d.medianDetectedMs)}, last ${seconds(d.allDetectedMs)}` +
    (d.falsePositives.length > 0
      ? `; others reported non-alive: ${d.falsePositives.slice(0, 5).join('; ')}`
      : '')
  )
}

async function main(): Promise<void> {
  installCleanup()
  out(
    machineHeader(
      `Chorus bench:gossip — membership of ${N} processes on 127.0.0.1, Chorus vs Serf`,
    ),
  )
  const serfPath = flags['skip-serf'] ? undefined : serfInstalled()
  out(
    `serf      ${serfPath ? `${serfPath}, ${serfVersion()}` : flags['skip-serf'] ? 'skipped (--skip-serf)' : 'serf not installed: apt-get install serf'}`,
  )
  out(
    `polling   every process from its banner on: Chorus every ${POLL_MS} ms (GET /v1/mesh/peers, ~0.7 ms of peer CPU each), ` +
      `Serf every ${SERF_POLL_MS} ms (members RPC)\n`,
  )

  // ---------------------------------------------------------------- (a), (b) Chorus
  progress(`(a) starting ${N} Chorus peers, the ${N - 1} joiners all at once`)
  const burst = await startChorusMesh(N, { sequential: false })
  const burstEvidence = evidence(burst.peers)
  let mesh = burst
  let oneByOne: ChorusMesh | undefined
  if (!burst.convergence.converged) {
    progress('(a) not converged; again with the joiners started one after another')
    await stopAll(burst.peers)
    burst.client.close()
    oneByOne = await startChorusMesh(N, { sequential: true })
    mesh = oneByOne
  }
  const chorusConv = mesh.convergence
  progress(`(a) converged: ${chorusConv.converged}; settling ${SETTLE_MS} ms`)
  await sleep(SETTLE_MS - REST_WINDOW_MS)
  const usage = await idleUsage(
    mesh.peers.map((p) => p.pid),
    REST_WINDOW_MS,
  )
  const victim = mesh.peers[VICTIM]
  if (!victim) throw new Error('no victim peer')
  progress(`(b) kill -9 peer${VICTIM} (pid ${victim.pid})`)
  const chorusDet = chorusConv.converged
    ? await detect(
        victim,
        victim.peerId,
        mesh.observed.filter((o) => o.name !== victim.peerId),
        'dead',
        'suspect',
        POLL_MS,
      )
    : undefined
  const loadDuring = loadavg()[0] ?? 0
  await stopAll(mesh.peers)
  mesh.client.close()

  // ---------------------------------------------------------------- (c) Serf
  let serf: Awaited<ReturnType<typeof runSerf>> | undefined
  if (serfPath) {
    progress(`(c) starting ${N} serf agents`)
    serf = await runSerf(N)
  } else if (!flags['skip-serf']) {
    out('serf not installed: apt-get install serf — comparing with the reference figures instead')
  }

  const serfConv = serf?.convergence
  const serfDet = serf?.detection
  const refConv = serfConv ? serfConv.fromFirstStartMs : SERF_REFERENCE.convergenceMs
  const refConvBanner = serfConv ? serfConv.fromLastBannerMs : SERF_REFERENCE.convergenceMs
  const refDet = serfDet ? serfDet.allDetectedMs : SERF_REFERENCE.detectionMs
  const refNote = serf ? 'Serf, this run' : 'Serf reference (targets.md)'
  out(`Results (${N} processes; victim: process ${VICTIM}; targets against ${refNote})`)
  out(
    table(
      ['measurement', 'Chorus', 'Serf', 'target', 'result'],
      [
        [
          `(a) ${N} started at once: all see all alive, from the last banner`,
          convergedIn(burst.convergence, 'fromLastBannerMs'),
          serfConv
            ? seconds(serfConv.fromLastBannerMs)
            : `~${seconds(SERF_REFERENCE.convergenceMs, 1)} (ref)`,
          `≤ Serf (${seconds(refConvBanner)})`,
          verdict(burst.convergence.fromLastBannerMs, refConvBanner, 'le'),
        ],
        [
          `(a) ${N} started at once: all see all alive, from the first start`,
          convergedIn(burst.convergence, 'fromFirstStartMs'),
          serfConv
            ? seconds(serfConv.fromFirstStartMs)
            : `~${seconds(SERF_REFERENCE.convergenceMs, 1)} (ref)`,
          `≤ Serf (${seconds(refConv)})`,
          verdict(burst.convergence.fromFirstStartMs, refConv, 'le'),
        ],
        ...(oneByOne
          ? [
              [
                `(a') started one by one (not the target): from the last banner`,
                convergedIn(oneByOne.convergence, 'fromLastBannerMs'),
                serfConv ? seconds(serfConv.fromLastBannerMs) : '',
                `≤ Serf (${seconds(refConvBanner)})`,
                verdict(oneByOne.convergence.fromLastBannerMs, refConvBanner, 'le'),
              ],
              [
                `(a') started one by one (not the target): from the first start`,
                convergedIn(oneByOne.convergence, 'fromFirstStartMs'),
                serfConv ? seconds(serfConv.fromFirstStartMs) : '',
                `≤ Serf (${seconds(refConv)})`,
                verdict(oneByOne.convergence.fromFirstStartMs, refConv, 'le'),
              ],
            ]
          : []),
        [
          `(b) kill -9 → all others report it dead/failed${oneByOne ? " (on the (a') mesh)" : ''}`,
          seconds(chorusDet?.allDetectedMs ?? Number.NaN),
          serfDet
            ? seconds(serfDet.allDetectedMs)
            : `~${seconds(SERF_REFERENCE.detectionMs, 1)} (ref)`,
          `≤ ½ Serf (${seconds(refDet / 2)})`,
          verdict(chorusDet?.allDetectedMs ?? Number.NaN, refDet / 2, 'le'),
        ],
      ],
    ),
  )
  out('Details')
  out(`  ${convergenceDetail('Chorus (a) ', burst.convergence)}`)
  out(`  Chorus (a)  joining: ${evidenceLine(burstEvidence)}`)
  if (oneByOne) {
    out(`  ${convergenceDetail("Chorus (a')", oneByOne.convergence)}`)
    out(`  Chorus (a') joining: ${evidenceLine(evidence(oneByOne.peers))}`)
  }
  if (serfConv) out(`  ${convergenceDetail('Serf       ', serfConv)}`)
  if (chorusDet) out(`  ${detectionDetail('Chorus (b) ', chorusDet, 'dead')}`)
  else out('  Chorus (b): not measured, the mesh never converged')
  if (serfDet) out(`  ${detectionDetail('Serf       ', serfDet, 'failed', false)}`)
  if (serf) out(`  Serf cross-check: ${serf.checkedWithCli}`)
  const cpuTotal = usage.cpu.reduce((a, b) => a + b, 0)
  out(
    `  Chorus at rest (${(SETTLE_MS - REST_WINDOW_MS) / 1000}–${SETTLE_MS / 1000} s after convergence, nobody polling; the kill follows): CPU per peer median ${median(usage.cpu).toFixed(1)}%, ` +
      `max ${Math.max(...usage.cpu).toFixed(1)}% of a core (all ${N}: ${cpuTotal.toFixed(0)}%); ` +
      `RSS per peer median ${median(usage.rss).toFixed(0)} MiB, max ${Math.max(...usage.rss).toFixed(0)} MiB ` +
      `(of which private to the peer, median ${median(usage.private).toFixed(0)} MiB: the rest is the node binary and libraries, shared) ` +
      `(all ${N}: ${(usage.rss.reduce((a, b) => a + b, 0) / 1024).toFixed(2)} GiB); load avg during the Chorus phases ${loadDuring.toFixed(2)}`,
  )

  if (flags.soak) await soak()
  else out('\n(d) soak skipped: run with --soak (5 minutes) or npm run bench:gossip:soak')
}

main()
  .then(() => shutdown(0))
  .catch((err: unknown) => {
    if (isShuttingDown()) return
    process.stderr.write(
      `bench:gossip failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    return shutdown(1)
  })
