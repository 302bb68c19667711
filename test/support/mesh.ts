/**
 * Real peers on 127.0.0.1 for integration tests: in this process (`startMesh`) or as
 * child processes (`spawnPeer`), always cleaned up, and `waitFor` to poll a condition
 * with a deadline instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process'
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

export interface SpawnedPeer {
  readonly child: ChildProcess
  readonly peerId: string
  readonly httpUrl: string
  readonly multiaddrs: string[]
  readonly dataDir: string
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `chorus start` as a child process and reads its banner. */
export async function spawnPeer(args: string[], timeoutMs = 20_000): Promise<SpawnedPeer> {
  const dataDir = await tempDir()
  const child = spawn(
    process.execPath,
    [
      '--conditions=chorus-source',
      '--import',
      'tsx',
      join(ROOT, 'packages/node/src/cli.ts'),
      'start',
      '--data-dir',
      dataDir,
      '--http',
      '127.0.0.1:0',
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    const banner = await readBanner(child, timeoutMs)
    return { child, dataDir, kill, ...banner }
  } catch (err) {
    await kill()
    throw err
  }
}

async function readBanner(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ peerId: string; httpUrl: string; multiaddrs: string[] }> {
  const lines = createInterface({ input: child.stdout! })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  const found = { peerId: '', httpUrl: '', multiaddrs: [] as string[] }
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
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
  throw new Error(`peer exited before printing its banner: ${stderr}`)
}
