/**
 * What the mesh and gossip benchmarks share: child processes that are always cleaned up
 * (killed by PID, temp dirs removed, also on failure and Ctrl-C), `chorus start` peers run
 * from the BUILT code (packages/node/dist), a keep-alive HTTP client, percentiles, tables
 * with PASS/MISS verdicts, and the header naming the machine.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'

export const ROOT = new URL('../../../', import.meta.url).pathname
export const CLI = join(ROOT, 'packages/node/dist/cli.js')
export const BENCH_DIR = new URL('./', import.meta.url).pathname

// ------------------------------------------------------------------ cleanup

const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let cleanupInstalled = false
let stopping = false

/** True once a signal or the end of the run started shutting down (later errors are its echo). */
export function isShuttingDown(): boolean {
  return stopping
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

/** Kills every child still running (SIGKILL, by PID) and removes every temp dir. Synchronous. */
export function cleanupNow(): void {
  for (const child of children) {
    if (child.pid !== undefined && alive(child)) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  children.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

/**
 * Kills every child still running (SIGKILL, by PID), waits up to `graceMs` for them to be
 * reaped, removes every temp dir, and exits with `code`.
 */
export async function shutdown(code: number, graceMs = 3_000): Promise<never> {
  stopping = true
  const waiting = [...children].map(
    (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
  )
  cleanupNow()
  await Promise.race([Promise.all(waiting), sleep(graceMs)])
  process.exit(code)
}

/** Cleans up on exit, on SIGINT/SIGTERM/SIGHUP, and on an uncaught error. Call once, first. */
export function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', cleanupNow)
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    process.stderr.write(`\n${signal}: killing ${children.size} child process(es) and exiting\n`)
    shutdown(code).catch(exitAnyway(code))
  }
  process.on('SIGINT', () => onSignal('SIGINT', 130))
  process.on('SIGTERM', () => onSignal('SIGTERM', 143))
  process.on('SIGHUP', () => onSignal('SIGHUP', 129))
  process.on('uncaughtException', (err) => {
    process.stderr.write(`uncaught: ${err.stack ?? err.message}\n`)
    shutdown(1).catch(exitAnyway(1))
  })
  process.on('unhandledRejection', (err) => {
    process.stderr.write(
      `unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    shutdown(1).catch(exitAnyway(1))
  })
}

/** A shutdown that fails still ends the process, with what it was going to exit with. */
function exitAnyway(code: number): (err: unknown) => never {
  return (err) => {
    process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(code)
  }
}

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** A child process that keeps the last lines of its stderr for error messages. */
export interface Child {
  readonly child: ChildProcess
  readonly pid: number
  readonly label: string
  /** When spawn() was called, on `performance.now()`'s clock. */
  readonly spawnedAt: number
  /** The last lines the child wrote to stderr (at most 40). */
  stderrTail(): string
  /** How many stderr lines matched each pattern of `countStderr` (see spawnChild). */
  stderrCounts(): Record<string, number>
  /** The first few stderr lines that matched each pattern of `countStderr`. */
  stderrSamples(): Record<string, string[]>
  /** Resolves when the child has exited. */
  readonly exited: Promise<void>
  /** Sends `signal` (default SIGKILL) by PID, unless it already exited; waits for the exit. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>
}

export function spawnChild(
  label: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
  countStderr: Readonly<Record<string, RegExp>> = {},
): Child {
  const spawnedAt = performance.now()
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  if (child.pid === undefined) throw new Error(`${label}: could not spawn ${command}`)
  children.add(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child)
      resolve()
    })
    child.once('error', () => resolve())
  })
  const tail: string[] = []
  const counts: Record<string, number> = Object.fromEntries(
    Object.keys(countStderr).map((k) => [k, 0]),
  )
  const samples: Record<string, string[]> = {}
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line)
      if (tail.length > 40) tail.shift()
      for (const [name, pattern] of Object.entries(countStderr)) {
        if (!pattern.test(line)) continue
        counts[name] = (counts[name] ?? 0) + 1
        const kept = (samples[name] ??= [])
        if (kept.length < 3) kept.push(line)
      }
    })
  }
  const pid = child.pid
  return {
    child,
    pid,
    label,
    spawnedAt,
    exited,
    stderrTail: () => tail.join('\n'),
    stderrCounts: () => ({ ...counts }),
    stderrSamples: () => ({ ...samples }),
    async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 5_000) {
      if (!alive(child)) return exited
      try {
        process.kill(pid, signal)
      } catch {
        return exited
      }
      const timer = setTimeout(() => {
        if (alive(child)) process.kill(pid, 'SIGKILL')
      }, graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Resolves with the first stdout line matching `pattern`; rejects on exit or after `timeoutMs`. */
export function waitForLine(c: Child, pattern: RegExp, timeoutMs: number): Promise<string> {
  const stdout = c.child.stdout
  if (!stdout) return Promise.reject(new Error(`${c.label}: no stdout`))
  return new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: stdout })
    const done = (err: Error | undefined, line?: string): void => {
      clearTimeout(timer)
      lines.off('line', onLine)
      c.child.off('exit', onExit)
      if (err) reject(err)
      else resolve(line ?? '')
    }
    const onLine = (line: string): void => {
      if (pattern.test(line)) done(undefined, line)
    }
    const onExit = (code: number | null, signal: string | null): void =>
      done(
        new Error(
          `${c.label} exited (code ${code}, signal ${signal}) before printing ${pattern}; stderr:\n${c.stderrTail()}`,
        ),
      )
    const timer = setTimeout(
      () =>
        done(
          new Error(
            `${c.label} printed no ${pattern} within ${timeoutMs} ms; stderr:\n${c.stderrTail()}`,
          ),
        ),
      timeoutMs,
    )
    lines.on('line', onLine)
    c.child.once('exit', onExit)
  })
}

// ------------------------------------------------------------------ chorus peers

export interface Peer extends Child {
  readonly peerId: string
  readonly httpUrl: string
  readonly multiaddr: string
  readonly dataDir: string
  /** When the banner's last line was read, on `performance.now()`'s clock. */
  readonly bannerAt: number
}

export interface StartPeerOptions {
  readonly label: string
  /** A multiaddr to join through; none starts a new mesh. */
  readonly join?: string
  /** Flags for node itself, before the script (`--cpu-prof`, `--import preload.js`). */
  readonly nodeArgs?: readonly string[]
  /** Extra environment variables for the peer. */
  readonly env?: Readonly<Record<string, string>>
  /** Stderr lines to count, by name (see `Child.stderrCounts`). */
  readonly countStderr?: Readonly<Record<string, RegExp>>
  readonly timeoutMs?: number
}

/** `node packages/node/dist/cli.js start …` on 127.0.0.1 with a fresh data dir; reads its banner. */
export async function startPeer(options: StartPeerOptions): Promise<Peer> {
  const dataDir = makeTempDir('chorus-bench-')
  const args = [
    ...(options.nodeArgs ?? []),
    CLI,
    'start',
    '--data-dir',
    dataDir,
    '--http',
    '127.0.0.1:0',
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    ...(options.join === undefined ? [] : ['--join', options.join]),
  ]
  const c = spawnChild(
    options.label,
    process.execPath,
    args,
    { cwd: ROOT, env: { ...process.env, ...options.env } },
    options.countStderr,
  )
  const stdout = c.child.stdout
  if (!stdout) throw new Error(`${options.label}: no stdout`)
  const found = { peerId: '', httpUrl: '', multiaddr: '' }
  const lines = createInterface({ input: stdout })
  const timeoutMs = options.timeoutMs ?? 30_000
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${options.label} printed no banner within ${timeoutMs} ms; stderr:\n${c.stderrTail()}`,
            ),
          ),
        timeoutMs,
      )
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer)
        reject(
          new Error(
            `${options.label} exited (code ${code}, signal ${signal}) before its banner; stderr:\n${c.stderrTail()}`,
          ),
        )
      }
      c.child.once('exit', onExit)
      lines.on('line', (line) => {
        const id = /^peer id\s+(\S+)/.exec(line)
        if (id) found.peerId = id[1] ?? ''
        const http = /^http\s+(http:\/\/\S+)/.exec(line)
        if (http) found.httpUrl = http[1] ?? ''
        const addr = /(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/.exec(line)
        if (addr && found.multiaddr === '') found.multiaddr = addr[1] ?? ''
        if (/Press Ctrl\+C/.test(line)) {
          clearTimeout(timer)
          c.child.off('exit', onExit)
          if (found.peerId && found.httpUrl && found.multiaddr) resolve()
          else reject(new Error(`${options.label}: incomplete banner ${JSON.stringify(found)}`))
        }
      })
    })
  } catch (err) {
    await c.kill()
    throw err
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  lines.on('line', () => undefined)
  return { ...c, ...found, dataDir, bannerAt: performance.now() }
}

// ------------------------------------------------------------------ HTTP client

export interface HttpAnswer {
  readonly status: number
  readonly body: Buffer
}

/** A parsed `http://host:port` so the hot path does no URL parsing. */
export interface Target {
  readonly host: string
  readonly port: number
}

export function target(url: string): Target {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

/** node:http with a keep-alive Agent: sockets are reused across requests. */
export class HttpClient {
  readonly agent: Agent

  constructor(maxSockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  }

  request(
    to: Target,
    method: string,
    path: string,
    body?: Buffer,
    timeoutMs = 10_000,
  ): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const headers: Record<string, string | number> = {}
      if (body !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = body.length
      }
      const req = httpRequest(
        { agent: this.agent, host: to.host, port: to.port, method, path, headers },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
            }),
          )
          res.on('error', reject)
        },
      )
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)),
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  async getJson(to: Target, path: string, timeoutMs = 5_000): Promise<unknown> {
    const answer = await this.request(to, 'GET', path, undefined, timeoutMs)
    if (answer.status !== 200) {
      throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.body.toString().slice(0, 200)}`)
    }
    return JSON.parse(answer.body.toString()) as unknown
  }

  close(): void {
    this.agent.destroy()
  }
}

export interface MemberView {
  readonly peerId: string
  readonly state: string
}

/** `GET /v1/mesh/peers`, checked: the asked peer's id and every member it lists. */
export async function meshPeers(
  client: HttpClient,
  to: Target,
  timeoutMs = 5_000,
): Promise<{ self: string; peers: MemberView[] }> {
  const answer = (await client.getJson(to, '/v1/mesh/peers', timeoutMs)) as {
    self?: unknown
    peers?: unknown
  }
  if (typeof answer.self !== 'string' || !Array.isArray(answer.peers)) {
    throw new Error(`unexpected /v1/mesh/peers answer: ${JSON.stringify(answer).slice(0, 200)}`)
  }
  const peers = (answer.peers as { peerId?: unknown; state?: unknown }[]).map((p) => ({
    peerId: String(p.peerId),
    state: String(p.state),
  }))
  return { self: answer.self, peers }
}

// ------------------------------------------------------------------ numbers and time

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The `q` quantile (0…1) of `sorted` (ascending), nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

export function ms(value: number, digits = 3): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)} ms` : 'n/a'
}

export function seconds(valueMs: number, digits = 2): string {
  return Number.isFinite(valueMs) ? `${(valueMs / 1000).toFixed(digits)} s` : 'n/a'
}

export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a'
}

/** PASS when `value` meets the target (`le`: at most, `ge`: at least); MISS otherwise or if unmeasured. */
export function verdict(value: number, targetValue: number, kind: 'le' | 'ge'): 'PASS' | 'MISS' {
  if (!Number.isFinite(value) || !Number.isFinite(targetValue)) return 'MISS'
  return (kind === 'le' ? value <= targetValue : value >= targetValue) ? 'PASS' : 'MISS'
}

// ------------------------------------------------------------------ output

/** An aligned text table; columns given as 'right' are right-aligned. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0
        return right.includes(i) ? cell.padStart(width) : cell.padEnd(width)
      })
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(headers), rule, ...rows.map(line)].join('\n') + '\n'
}

/** The header every bench prints: what ran, where, on which Node and CPU. */
export function machineHeader(title: string): string {
  const cpuList = cpus()
  const model = cpuList[0]?.model.trim() ?? 'unknown CPU'
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().trim()
    if (dirty !== '') commit += ' + uncommitted changes'
  } catch {
    // not a git checkout
  }
  const [load1 = 0] = loadavg()
  let built = 'unknown'
  try {
    const newest = Math.max(
      ...readdirSync(join(ROOT, 'packages'), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'packages', d.name, 'dist')))
        .flatMap((d) => {
          const dist = join(ROOT, 'packages', d.name, 'dist')
          return readdirSync(dist).map((f) => statSync(join(dist, f)).mtimeMs)
        }),
    )
    built = new Date(newest).toISOString()
  } catch {
    // no dist
  }
  return [
    title,
    `date      ${new Date().toISOString()}`,
    `node      ${process.version} (${process.platform} ${process.arch})`,
    `cpu       ${model} × ${cpuList.length}   load avg ${load1.toFixed(2)}`,
    `memory    ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `peer      ${CLI.replace(ROOT, '')} (built code, newest dist file ${built}), commit ${commit}`,
    '',
  ].join('\n')
}

/** Refuses to run against a missing build: the bench measures dist/, not the sources. */
export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
}

/** Resident memory of a process in MiB (Linux /proc), or NaN. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]
    return kb === undefined ? Number.NaN : Number(kb) / 1024
  } catch {
    return Number.NaN
  }
}

/**
 * Memory only this process holds, in MiB (Linux /proc smaps_rollup: private clean + dirty), or
 * NaN. RSS also counts the node binary and shared libraries, which every peer on the host shares.
 */
export function privateMiB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const kb = ['Private_Clean', 'Private_Dirty'].map((field) =>
      Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(rollup)?.[1] ?? Number.NaN),
    )
    return ((kb[0] as number) + (kb[1] as number)) / 1024
  } catch {
    return Number.NaN
  }
}

/** CPU time (user + system) a process has used, in ms (Linux /proc), or NaN. */
export function cpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    return (ticks * 1000) / 100 // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN
  }
}

/** Prints to stdout at once (progress lines go to stderr so the report stays clean). */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function progress(text: string): void {
  process.stderr.write(`· ${text}\n`)
}
