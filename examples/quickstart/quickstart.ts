/**
 * The Chorus quickstart: `npm run quickstart`.
 *
 * Starts three peers on 127.0.0.1 (`chorus start`, temporary data directories, free ports),
 * waits until they see each other, deploys the functions in `functions/` and the
 * choreography in `pipeline.yaml` with the client SDK (`@chorus/node/client`), invokes them
 * through different peers, and prints what came back, where it ran and how long it took.
 * The peers are always stopped at the end: on success, on error, and on Ctrl+C.
 *
 *     npm run quickstart                 # builds, then runs the peers from dist/
 *     node --conditions=chorus-source --import tsx examples/quickstart/quickstart.ts --from-source
 *                                        # no build: the peers and the SDK from the sources
 *
 * Exit code 0 when every step did what it should, 1 otherwise (130/143 when interrupted).
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import {
  connect,
  ChorusClientError,
  type DeployOptions,
  type InvocationView,
  type Mesh,
  type StepTrace,
} from '@chorus/node/client'
import { LocalMesh, type LocalPeer } from './local-mesh.js'

const OWNER = 'quickstart'
const HERE = new URL('./', import.meta.url)

interface Sample {
  readonly file: string
  readonly about: string
  readonly options?: DeployOptions
}

const FUNCTIONS: Readonly<Record<string, Sample>> = {
  primes: { file: 'primes.mjs', about: 'CPU-bound: counts primes by trial division' },
  store: {
    file: 'store.mjs',
    about: 'I/O-bound: writes a file, waits 100 ms "on the network"',
    options: { concurrency: 16 },
  },
  validate: { file: 'validate.mjs', about: 'fails on bad input' },
  split: { file: 'split.mjs', about: 'splits a range into chunks' },
  sum: { file: 'sum.mjs', about: "totals the chunks' counts" },
}

async function main(mesh: LocalMesh, fromSource: boolean): Promise<void> {
  const started = performance.now()
  say(`Chorus quickstart: 3 peers on 127.0.0.1, owner "${OWNER}"\n`)

  say(`Starting 3 peers${fromSource ? ' (from the sources)' : ''}…`)
  const peers = await mesh.start(3)
  const clients = peers.map((p) => connect(p.httpUrl, { owner: OWNER, poll: { initialMs: 10 } }))
  const label = peerLabels(peers)
  print(
    table(
      ['peer', 'peer id', 'http'],
      peers.map((p) => [p.name, p.peerId, p.httpUrl]),
    ),
  )
  const formed = await timed(() => waitForMesh(clients, peers))
  say(`Mesh formed: every peer sees all 3 alive (${ms(formed.ms)}).\n`)

  const [p1, p2, p3] = clients as [Mesh, Mesh, Mesh]
  say(`Deploying ${Object.keys(FUNCTIONS).length} functions through peer1…`)
  const deployed: string[][] = []
  const revisions = new Map<string, string>()
  for (const [name, sample] of Object.entries(FUNCTIONS)) {
    const answer = await p1.deploy(name, new URL(`functions/${sample.file}`, HERE), sample.options)
    revisions.set(name, answer.revision)
    deployed.push([name, `v${answer.version}`, sample.about])
  }
  print(table(['function', 'version', 'what it does'], deployed))
  const replicated = await timed(() => waitForFunctions(clients, revisions))
  say(`Every peer has them (${ms(replicated.ms)}).\n`)

  say("Invoking through different peers (a function's first run on a peer starts its host: cold):")
  const rows: string[][] = []
  const hosts = new Set<string>()
  const call = async (fn: string, via: Mesh, input: unknown, kind: string): Promise<void> => {
    const run = await timed(() => invoke(via, fn, input))
    const { view, error } = run.value
    const ranOn = label(view?.peerId)
    const host = hosts.has(`${fn}@${ranOn}`) ? 'warm' : 'cold'
    hosts.add(`${fn}@${ranOn}`)
    rows.push([
      fn,
      kind,
      label(peers[clients.indexOf(via)]?.peerId),
      ranOn,
      host,
      ms(run.ms),
      error === undefined ? short(view?.output) : `✗ ${error.code}: ${error.message}`,
    ])
  }
  await call('primes', p2, { from: 0, to: 1_000_000 }, 'CPU')
  await call('primes', p3, { from: 0, to: 1_000_000 }, 'CPU')
  await call('primes', p1, { from: 0, to: 1_000_000 }, 'CPU')
  await call('store', p3, { order: 7, items: 3 }, 'I/O')
  await call('store', p1, { order: 8, items: 1 }, 'I/O')
  await call('validate', p2, { id: 9, quantity: -1 }, 'fails')
  await call('validate', p1, { id: 10, quantity: 2 }, 'ok')
  print(table(['function', 'kind', 'via', 'ran on', 'host', 'time', 'result'], rows, [5]))

  say('A function called like a local one throws its error as a ChorusClientError:')
  const validate = p3.fn('validate')
  try {
    await validate({ id: 11, quantity: 0 })
    throw new Error('validate accepted a quantity of 0')
  } catch (err) {
    if (!(err instanceof ChorusClientError)) throw err
    say(`  ${err.name} ${err.code}: ${err.message}\n  (invocation ${err.invocationId})\n`)
  }

  const burst = 12
  say(`Submitting ${burst} store invocations at once, round robin through the 3 peers, twice:`)
  for (const round of [1, 2]) {
    const submitted = await timed(async () => {
      const handles = await Promise.all(
        Array.from({ length: burst }, (_, i) =>
          clients[i % clients.length]!.fn('store').submit({ round, i }),
        ),
      )
      await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })))
      return Promise.all(handles.map((h) => h.status()))
    })
    const where = new Map<string, number>()
    for (const view of submitted.value) {
      const name = label(view.peerId)
      where.set(name, (where.get(name) ?? 0) + 1)
    }
    const spread = [...where].sort().map(([name, n]) => `${name} ×${n}`)
    say(
      `  round ${round}: ${submitted.value.length} succeeded in ${ms(submitted.ms)}, ` +
        `ran on ${spread.join(', ')}`,
    )
  }
  say(`  (one after another they would take at least ${ms(burst * 100)})\n`)

  const text = await readFile(new URL('pipeline.yaml', HERE), 'utf8')
  const { name, definition } = parseYaml(text) as { name: string; definition: unknown }
  say(`Deploying the choreography "${name}" (sequence, map, parallel) through peer2…`)
  const chor = await p2.deployChoreography(name, definition)
  await waitFor(`${name} to reach peer3`, async () =>
    (await p3.choreographies()).some((c) => c.name === name && c.revision === chor.revision),
  )
  const input = { from: 0, to: 2_000_000, chunks: 4 }
  say(`Running it through peer3 on ${JSON.stringify(input)}…`)
  const run = await timed(async () => {
    const handle = await p3.choreography(name).submit(input, { wait: true, timeoutMs: 120_000 })
    return { output: await handle.result(), view: await handle.status() }
  })
  say(`  output: ${JSON.stringify(run.value.output)}  (${ms(run.ms)})`)
  const primes = (run.value.output as [{ primes: number }, unknown])[0]?.primes
  if (primes !== 148_933) throw new Error(`the pipeline counted ${primes} primes, not 148933`)
  if (run.value.view.trace !== undefined) {
    print(
      table(
        ['step', 'kind', 'status', 'time', 'ran on'],
        traceRows(run.value.view.trace.root, label, name),
        [3],
      ),
    )
  }
  say(`Done in ${ms(performance.now() - started)}.`)
}

/** Invokes `fn` and waits (one request): its view, and its error when it failed. */
async function invoke(
  via: Mesh,
  fn: string,
  input: unknown,
): Promise<{ view?: InvocationView; error?: { code: string; message: string } }> {
  try {
    const view = await (await via.fn(fn).submit(input, { wait: true })).status()
    if (view.status !== 'failed') return { view }
    return { view, error: view.error ?? { code: 'internal', message: 'failed' } }
  } catch (err) {
    if (err instanceof ChorusClientError) return { error: { code: err.code, message: err.message } }
    throw err
  }
}

async function waitForMesh(clients: readonly Mesh[], peers: readonly LocalPeer[]): Promise<void> {
  const ids = new Set(peers.map((p) => p.peerId))
  await waitFor('every peer to see all 3 alive', async () => {
    const views = await Promise.all(clients.map((c) => c.peers()))
    return views.every(
      (v) => v.peers.filter((m) => m.state === 'alive' && ids.has(m.peerId)).length === ids.size,
    )
  })
}

async function waitForFunctions(
  clients: readonly Mesh[],
  revisions: ReadonlyMap<string, string>,
): Promise<void> {
  await waitFor('every peer to have every function', async () => {
    const lists = await Promise.all(clients.map((c) => c.functions()))
    return lists.every((list) =>
      [...revisions].every(([name, revision]) =>
        list.some((f) => f.name === name && f.revision === revision),
      ),
    )
  })
}

/** Polls `check` every 50 ms until it holds, for at most `timeoutMs`. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
      last = undefined
    } catch (err) {
      last = err
    }
    if (performance.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : ''
      throw new Error(`timed out after ${ms(timeoutMs)} waiting for ${what}${why}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** One row per step instance, indented by depth: where each task ran and how long it took. */
function traceRows(
  step: StepTrace,
  label: (peerId: string | undefined) => string,
  rootName: string,
  depth = 0,
): string[][] {
  const item = /\[(\d+)\]$/.exec(step.path)
  const name = item
    ? `item ${item[1]}`
    : (step.name ?? step.fn ?? (depth === 0 ? rootName : step.kind))
  const kind = step.kind === 'task' ? `fn ${step.fn ?? '?'}` : step.kind
  const took =
    step.startedAt !== undefined && step.endedAt !== undefined
      ? ms(step.endedAt - step.startedAt)
      : ''
  const tasks = step.tasks ?? []
  const ranOn = [...new Set(tasks.map((t) => label(t.peerId)))].join(', ')
  const items = step.items ? ` (${step.items.succeeded}/${step.items.total} items)` : ''
  const row = [`${'  '.repeat(depth)}${name}`, `${kind}${items}`, step.status, took, ranOn]
  const children = step.children ?? []
  return [row, ...children.flatMap((c) => traceRows(c, label, rootName, depth + 1))]
}

function peerLabels(peers: readonly LocalPeer[]): (peerId: string | undefined) => string {
  const names = new Map(peers.map((p) => [p.peerId, p.name]))
  return (peerId) => (peerId === undefined ? '' : (names.get(peerId) ?? peerId.slice(-8)))
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now()
  const value = await work()
  return { value, ms: performance.now() - start }
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`
}

function short(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? 'undefined'
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** Aligned columns, two spaces apart, indented by two; `right` lists right-aligned columns. */
function table(header: string[], rows: string[][], right: number[] = []): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  return all
    .map((row) =>
      widths
        .map((width, i) => {
          const cell = row[i] ?? ''
          return right.includes(i) ? cell.padStart(width) : cell.padEnd(width)
        })
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `  ${line}`)
    .join('\n')
}

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

function print(block: string): void {
  process.stdout.write(`${block}\n\n`)
}

const fromSource = process.argv.includes('--from-source')
const mesh = new LocalMesh({ fromSource })
let interrupted = false
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    interrupted = true
    process.stderr.write(`\n${signal}: stopping the peers…\n`)
    const exit = (): never => process.exit(code)
    mesh.stop().then(exit).catch(exit)
  })
}

try {
  await main(mesh, fromSource)
  process.exitCode = 0
} catch (err) {
  if (!interrupted) {
    process.stderr.write(
      `\nquickstart failed: ${err instanceof Error ? err.message : String(err)}\n`,
    )
    for (const peer of mesh.peers) {
      const tail = peer.logTail().trim().split('\n').slice(-15).join('\n    ')
      if (tail !== '') process.stderr.write(`  ${peer.name} logged, last:\n    ${tail}\n`)
    }
    process.exitCode = 1
  }
} finally {
  if (!interrupted) {
    say('Stopping the peers…')
    await mesh.stop()
    say('Stopped.')
  }
}
