/**
 * Real peers on 127.0.0.1 for integration tests: in this process (`startMesh`) or as
 * child processes (`spawnPeer`), always cleaned up, and `waitFor` to poll a condition
 * with a deadline instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { PEER_CONFIG_DEFAULTS, type PeerConfig } from '../../packages/node/src/config.js'
import { startPeer, type RunningPeer } from '../../packages/node/src/peer.js'
import { waitFor } from '../../packages/node/test/wait-for.js'

export { waitFor }

export interface TestPeer extends RunningPeer {
  readonly peerId: string
  readonly dataDir: string
}

const ROOT = new URL('../../', import.meta.url).pathname

export async function tempDir(prefix = 'chorus-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export function testConfig(dataDir: string, overrides: Partial<PeerConfig> = {}): PeerConfig {
  return {
    ...PEER_CONFIG_DEFAULTS,
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    join: [],
    http: { host: '127.0.0.1', port: 0 },
    ...overrides,
  }
}

/** Starts `count` peers in this process, each joining through the first. */
export async function startMesh(
  count: number,
  overrides: Partial<PeerConfig> = {},
): Promise<TestPeer[]> {
  const peers: TestPeer[] = []
  try {
    for (let i = 0; i < count; i++) {
      const dataDir = await tempDir()
      const join = i === 0 ? [] : [peers[0]?.multiaddrs[0] ?? '']
      const running = await startPeer(testConfig(dataDir, { join, ...overrides }))
      peers.push({ ...running, peerId: running.api.peerId, dataDir })
    }
  } catch (err) {
    await stopAll(peers)
    throw err
  }
  return peers
}

export async function stopAll(peers: readonly TestPeer[]): Promise<void> {
  await Promise.all(
    peers.map(async (p) => {
      await p.stop().catch(() => undefined)
      await rm(p.dataDir, { recursive: true, force: true })
    }),
  )
}

/** Every peer sees every other as alive. */
export function allSeeAll(peers: readonly TestPeer[]): boolean {
  const ids = new Set(peers.map((p) => p.peerId))
  return peers.every((p) => {
    const alive = p.api.peers().filter((m) => m.state === 'alive' && ids.has(m.peerId))
    return alive.length === peers.length
  })
}

export interface SpawnOptions {
  /**
   * Run the built CLI (`packages/node/dist/cli.js`) with plain `node`, as a user does,
   * instead of compiling the source with tsx: much faster to start when many peers start at
   * once. Needs `npm run build` (which `npm test` runs first).
   */
  readonly built?: boolean
  /** How long to wait for the banner before killing the process. Default 20 s. */
  readonly bannerTimeoutMs?: number
}

/** How a spawned peer's process ended. */
export interface PeerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** `kill()` (or the banner timeout) ended it; false means it exited on its own. */
  readonly killed: boolean
}

export interface SpawnedPeer {
  readonly child: ChildProcess
  readonly peerId: string
  readonly httpUrl: string
  readonly multiaddrs: string[]
  readonly dataDir: string
  /** Everything the process has written to stderr so far. */
  stderr(): string
  /** How the process ended, once it has; undefined while it runs. */
  exit(): PeerExit | undefined
  /** It ended without being killed by us: it crashed or exited. */
  exitedOnItsOwn(): boolean
  /** Resolves when the process has ended, however. */
  readonly exited: Promise<PeerExit>
  kill(signal?: NodeJS.Signals): Promise<void>
}

const SOURCE_CLI = join(ROOT, 'packages/node/src/cli.ts')
export const BUILT_CLI = join(ROOT, 'packages/node/dist/cli.js')

/**
 * Starts `chorus start` as a child process and reads its banner. The second argument is
 * the banner timeout in milliseconds, or options.
 */
export async function spawnPeer(
  args: string[],
  options: number | SpawnOptions = {},
): Promise<SpawnedPeer> {
  const { built = false, bannerTimeoutMs = 20_000 } =
    typeof options === 'number' ? { bannerTimeoutMs: options } : options
  if (built && !existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} does not exist: run \`npm run build\` first`)
  }
  const program = built
    ? [BUILT_CLI]
    : ['--conditions=chorus-source', '--import', 'tsx', SOURCE_CLI]
  const dataDir = await tempDir()
  const child = spawn(
    process.execPath,
    [...program, 'start', '--data-dir', dataDir, '--http', '127.0.0.1:0', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (text: string) => (stderr += text))
  let killed = false
  let ended: PeerExit | undefined
  const exited = new Promise<PeerExit>((resolve) => {
    const end = (value: PeerExit): void => {
      ended ??= value
      resolve(ended)
    }
    child.once('exit', (code, signal) => end({ code, signal, killed }))
    child.once('error', (err) => {
      stderr += `spawning failed: ${err.message}\n`
      end({ code: null, signal: null, killed })
    })
  })
  const stop = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) {
      killed = true
      child.kill(signal)
    }
  }
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    stop(signal)
    await exited
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    const banner = await readBanner(
      child,
      bannerTimeoutMs,
      () => stop('SIGKILL'),
      () => stderr,
    )
    // Nothing more is expected on stdout, but never let a full pipe block the peer.
    child.stdout?.resume()
    return {
      child,
      dataDir,
      kill,
      exited,
      stderr: () => stderr,
      exit: () => ended,
      exitedOnItsOwn: () => ended !== undefined && !ended.killed,
      ...banner,
    }
  } catch (err) {
    await kill()
    throw err
  }
}

async function readBanner(
  child: ChildProcess,
  timeoutMs: number,
  onTimeout: () => void,
  stderr: () => string,
): Promise<{ peerId: string; httpUrl: string; multiaddrs: string[] }> {
  const lines = createInterface({ input: child.stdout! })
  const found = { peerId: '', httpUrl: '', multiaddrs: [] as string[] }
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    onTimeout()
  }, timeoutMs)
  try {
    for await (const line of lines) {
      const peer = /peer id\s+(\S+)/i.exec(line)
      if (peer) found.peerId = peer[1] ?? ''
      const http = /(http:\/\/\S+)/.exec(line)
      if (http && found.httpUrl === '') found.httpUrl = http[1] ?? ''
      const addr = /(\/ip4\/\S+\/p2p\/\S+)/.exec(line)
      if (addr) found.multiaddrs.push(addr[1] ?? '')
      if (found.peerId && found.httpUrl && found.multiaddrs.length > 0) return found
    }
  } finally {
    clearTimeout(timer)
  }
  if (timedOut) {
    throw new Error(`peer printed no banner within ${timeoutMs} ms; its stderr: ${stderr()}`)
  }
  throw new Error(`peer exited before printing its banner: ${stderr()}`)
}

/**
 * `n` `chorus start` processes, the others joining the first, each pushed into `into` as it
 * starts (so the caller's cleanup ends them even if this throws); resolves once every one sees
 * all `n` alive.
 */
export async function spawnMesh(
  n: number,
  flags: string[],
  into: SpawnedPeer[],
  timeoutMs = 20_000,
): Promise<void> {
  const first = await spawnPeer(flags)
  into.push(first)
  await Promise.all(
    Array.from({ length: n - 1 }, async () =>
      into.push(await spawnPeer([...flags, '--join', first.multiaddrs[0] ?? ''])),
    ),
  )
  await waitFor(
    `${n} peers to see each other`,
    async () => {
      for (const p of into) {
        const res = await fetch(`${p.httpUrl}/v1/mesh/peers`)
        const { peers } = (await res.json()) as { peers: { state: string }[] }
        if (peers.filter((m) => m.state === 'alive').length < n) return false
      }
      return true
    },
    timeoutMs,
  )
}
