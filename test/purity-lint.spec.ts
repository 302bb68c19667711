import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

/** Lints `code` as if it were a file of the pure scheduler core. */
async function lintAsCore(code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() })
  const [result] = await eslint.lintText(code, {
    filePath: 'packages/scheduler-core/src/owner-scheduler.ts',
  })
  return (result?.messages ?? []).map((m) => m.message)
}

// Type-aware ESLint builds a whole program first: slow on a loaded machine, so a long timeout.
describe('lint keeps the scheduler core pure', { timeout: 60_000 }, () => {
  it.each([
    ['a node: import', "import { readFileSync } from 'node:fs'\nexport const x = readFileSync"],
    ['a libp2p import', "import { createLibp2p } from 'libp2p'\nexport const x = createLibp2p"],
    ['the clock', 'export const now = (): number => Date.now()'],
    ['a timer', 'export const t = (): unknown => setTimeout(() => undefined, 1)'],
    ['randomness of its own', 'export const r = (): number => Math.random()'],
    ['performance.now', 'export const p = (): number => performance.now()'],
  ])('flags %s', async (_what, code) => {
    const messages = await lintAsCore(code)
    expect(messages.join('\n')).toMatch(/Pure cores/)
  })

  it('accepts pure code', async () => {
    expect(
      await lintAsCore('export const add = (a: number, b: number): number => a + b\n'),
    ).toEqual([])
  })
})

/** Lints `code` as if it were a file of the peer's shell. */
async function lintAsShell(code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() })
  const [result] = await eslint.lintText(code, {
    filePath: 'packages/node/src/transport/peer-channels.ts',
  })
  return (result?.messages ?? []).map((m) => m.message)
}

describe('lint gives fire-and-forget one shape', { timeout: 60_000 }, () => {
  it.each([
    [
      'a two-argument .then (a throw in its fulfil handler escapes)',
      'export function f(p: Promise<number>): void {\n  p.then(\n    (v) => console.log(v),\n    (e: unknown) => console.log(e),\n  )\n}\n',
      /two-argument \.then/,
    ],
    [
      'a voided promise',
      'export function f(p: Promise<number>): void {\n  void p\n}\n',
      /Promises must be awaited/,
    ],
  ])('flags %s', async (_what, code, message) => {
    expect((await lintAsShell(code)).join('\n')).toMatch(message)
  })

  it('accepts .then(a).catch(b)', async () => {
    const code =
      'export function f(p: Promise<number>): void {\n  p.then((v) => console.log(v)).catch((e: unknown) => console.log(e))\n}\n'
    expect(await lintAsShell(code)).toEqual([])
  })
})

describe('lint keeps the packages apart and acyclic', { timeout: 60_000 }, () => {
  it('flags an import cycle', async () => {
    // peer.ts imports errors.ts: errors.ts importing peer.ts back closes a cycle.
    const code = "import { startPeer } from './peer.js'\nexport const start = startPeer\n"
    const eslint = new ESLint({ cwd: process.cwd() })
    const [result] = await eslint.lintText(code, { filePath: 'packages/node/src/errors.ts' })
    expect((result?.messages ?? []).map((m) => m.message).join('\n')).toMatch(/Dependency cycle/)
  })

  it("flags a deep import into another package's src/", async () => {
    const code =
      "import { OwnerScheduler } from '@chorus/scheduler-core/src/owner-scheduler.js'\nexport const S = OwnerScheduler\n"
    expect((await lintAsShell(code)).join('\n')).toMatch(/not a path into its src/)
  })
})
