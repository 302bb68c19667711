import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('../../../../', import.meta.url).pathname

async function lintAs(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT })
  const [result] = await eslint.lintText(code, {
    filePath: `packages/node/src/definitions/${file}`,
  })
  return (result?.messages ?? []).map((m) => m.message)
}

// Type-aware ESLint builds a whole program first: slow on a loaded machine.
describe('lint keeps the definitions core pure', { timeout: 120_000 }, () => {
  it.each([
    'canonical-json.ts',
    'hlc.ts',
    'definition-op.ts',
    'definition-log.ts',
    'sync-session.ts',
    'function-spec.ts',
    'digest.ts',
  ])('flags the clock, I/O and randomness in %s', async (file) => {
    const code = [
      "import { readFileSync } from 'node:fs'",
      'export const r = (): unknown => [readFileSync, Date.now(), Math.random()]',
      '',
    ].join('\n')
    const messages = (await lintAs(file, code)).join('\n')
    expect(messages).toMatch(/Pure cores do no I\/O/)
    expect(messages).toMatch(/Pure cores read no clock/)
    expect(messages).toMatch(/Pure cores take an injected rng/)
  })

  it('leaves the shells free to do I/O', async () => {
    const code = "import { readFile } from 'node:fs/promises'\nexport const r = readFile\n"
    expect(await lintAs('code-store.ts', code)).toEqual([])
  })
})
