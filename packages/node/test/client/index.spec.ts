/** The package as a whole: what loading `@chorus/node/client` loads. */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('the client stays light', () => {
  it('imports no package and no node:* module, but lazily (only to read and pack a path)', async () => {
    const src = new URL('../../src', import.meta.url).pathname
    const seen = new Set<string>()
    const bad: string[] = []
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return
      seen.add(file)
      const text = await readFile(join(src, file), 'utf8')
      // Static imports and re-exports that load code (not `import type` / `export type`).
      const statics = text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)
      for (const [, specifier = ''] of statics) {
        if (!specifier.startsWith('.')) bad.push(`${file} imports ${specifier}`)
        else await visit(join(file, '..', specifier).replace(/\.js$/, '.ts'))
      }
    }
    await visit('client/index.ts')
    expect(bad).toEqual([])
    expect([...seen].sort()).toEqual([
      'client/client-error.ts',
      'client/function-source.ts',
      'client/index.ts',
      'client/invocation-handle.ts',
      'client/json-http.ts',
      'client/mesh.ts',
      'client/remote-function.ts',
      'names.ts',
    ])
  })
})
