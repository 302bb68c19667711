import { ESLint } from 'eslint'
import { beforeAll, describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: new URL('../../..', import.meta.url).pathname })

/** Lints `code` as if it were a file of the gossip package's pure cores. */
async function lintAsCore(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {
    filePath: 'packages/gossip/src/core/membership.ts',
  })
  return (result?.messages ?? []).map((m) => m.message)
}

// Type-aware ESLint builds a whole program first: slow on a loaded machine, so a long timeout.
describe('lint keeps the gossip cores pure', { timeout: 60_000 }, () => {
  // The first lint builds the TypeScript program for typed rules: seconds on a busy machine.
  beforeAll(async () => {
    await lintAsCore('export {}\n')
  }, 60_000)

  it.each([
    ['a node: import', "import { readFileSync } from 'node:fs'\nexport const x = readFileSync"],
    ['a libp2p import', "import { createLibp2p } from 'libp2p'\nexport const x = createLibp2p"],
    ['the clock', 'export const now = (): number => Date.now()'],
    ['a timer', 'export const t = (): unknown => setTimeout(() => undefined, 1)'],
    ['randomness of its own', 'export const r = (): number => Math.random()'],
  ])('flags %s', async (_what, code) => {
    expect((await lintAsCore(code)).join('\n')).toMatch(/Pure cores/)
  })

  it('accepts pure code', async () => {
    expect(
      await lintAsCore('export const add = (a: number, b: number): number => a + b\n'),
    ).toEqual([])
  })
})
