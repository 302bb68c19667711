/**
 * A mesh of `chorus start` child processes on 127.0.0.1, each with its own temporary data
 * directory, libp2p and HTTP on free ports, the second and later joining through the first.
 * `stop()` always undoes `start()`: every peer gets SIGTERM, then SIGKILL if it has not
 * exited within the grace period, and the data directories are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface LocalPeer {
  /** `peer1`, `peer2`, … */
  readonly name: string
  readonly peerId: string
  readonly httpUrl: string
  readonly multiaddrs: readonly string[]
  readonly pid: number
  /** The last lines the peer logged (its stderr), to explain a failure. */
  logTail(): string
}

export interface LocalMeshInit {
  /** Run the peers from the TypeScript sources (no build needed) instead of `dist/`. */
  readonly fromSource?: boolean
  /** How long a peer may take to print its banner. Default 30 s. */
  readonly startTimeoutMs?: number
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 5 s. */
  readonly stopGraceMs?: number
}

const ROOT = new URL('../../', import.meta.url).pathname
const LOG_TAIL_BYTES = 8 * 1024

interface Running {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  peer?: LocalPeer
}

export class LocalMesh {
  readonly peers: LocalPeer[] = []
  readonly #init: LocalMeshInit
  readonly #running: Running[] = []
  #dir: string | undefined
  #stopping: Promise<void> | undefined

  constructor(init: LocalMeshInit = {}) {
    this.#init = init
  }

  /** Starts `count` peers: the first, then the others together, joining through it. */
  async start(count: number): Promise<LocalPeer[]> {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-quickstart-'))
    if (this.#stopping !== undefined) {
      await rm(dir, { recursive: true, force: true })
      throw new Error('the mesh is stopping')
    }
    this.#dir = dir
    const first = await this.#startPeer(1, [])
    const entry = first.multiaddrs[0]
    if (entry === undefined) throw new Error(`${first.name} printed no libp2p address`)
    const others = await Promise.all(
      Array.from({ length: count - 1 }, (_, i) => this.#startPeer(i + 2, ['--join', entry])),
    )
    this.peers.push(first, ...others)
    return this.peers
  }

  /** Stops every peer started (SIGTERM, then SIGKILL after the grace period); idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const grace = this.#init.stopGraceMs ?? 5_000
      await Promise.all(this.#running.map((running) => stopChild(running, grace)))
      if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true })
    })()
    return this.#stopping
  }

  async #startPeer(index: number, extra: string[]): Promise<LocalPeer> {
    if (this.#stopping !== undefined) throw new Error('the mesh is stopping')
    const name = `peer${index}`
    const dataDir = join(this.#dir ?? tmpdir(), name)
    const cli = this.#init.fromSource
      ? ['--conditions=chorus-source', '--import', 'tsx', join(ROOT, 'packages/node/src/cli.ts')]
      : [join(ROOT, 'packages/node/dist/cli.js')]
    const args = [
      ...cli,
      'start',
      '--data-dir',
      dataDir,
      '--http',
      '127.0.0.1:0',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      ...extra,
    ]
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: withoutChorusVariables(process.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const running: Running = { child, exited }
    this.#running.push(running)
    let log = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-LOG_TAIL_BYTES)
    })
    const banner = await readBanner(child, name, this.#init.startTimeoutMs ?? 30_000, () => log)
    child.stdout?.resume() // nothing more is read; keep the pipe from filling up
    const peer: LocalPeer = { name, ...banner, pid: child.pid ?? -1, logTail: () => log }
    running.peer = peer
    return peer
  }
}

/** Reads `chorus start`'s banner up to its last line, `Press Ctrl+C to stop.` */
async function readBanner(
  child: ChildProcess,
  name: string,
  timeoutMs: number,
  log: () => string,
): Promise<{ peerId: string; httpUrl: string; multiaddrs: string[] }> {
  const found = { peerId: '', httpUrl: '', multiaddrs: [] as string[] }
  const lines = createInterface({ input: child.stdout! })
  const timer = setTimeout(() => lines.close(), timeoutMs)
  try {
    for await (const line of lines) {
      const peerId = /^peer id\s+(\S+)/.exec(line)
      if (peerId) found.peerId = peerId[1] ?? ''
      const http = /^http\s+(http:\/\/\S+)/.exec(line)
      if (http) found.httpUrl = http[1] ?? ''
      const addr = /(\/ip4\/\S+\/p2p\/\S+)/.exec(line)
      if (addr) found.multiaddrs.push(addr[1] ?? '')
      if (line.startsWith('Press Ctrl+C')) {
        if (found.peerId === '' || found.httpUrl === '') break
        return found
      }
    }
  } finally {
    clearTimeout(timer)
  }
  const why =
    child.exitCode !== null || child.signalCode !== null
      ? `exited (${child.exitCode ?? child.signalCode})`
      : `printed no complete banner within ${timeoutMs} ms`
  throw new Error(`${name} ${why}:\n${log()}`)
}

async function stopChild(running: Running, graceMs: number): Promise<void> {
  const { child, exited } = running
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>(
    (resolve) => (timer = setTimeout(() => resolve('late'), graceMs)),
  )
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL')
    await exited
  }
  clearTimeout(timer)
}

/** The environment without `CHORUS_*`: the peers' flags say everything (no stray `CHORUS_JOIN`). */
function withoutChorusVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('CHORUS_')))
}
