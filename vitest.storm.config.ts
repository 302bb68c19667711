import { defineConfig } from 'vitest/config'

/**
 * The join storm (30 `chorus start` processes) runs on its own, after the rest of the suite:
 * beside other test files it would measure the machine, not the mesh. `npm test` runs it.
 */
export default defineConfig({
  resolve: { conditions: ['chorus-source'] },
  test: {
    include: ['test/join-storm.spec.ts'],
    fileParallelism: false,
    setupFiles: [new URL('./packages/node/src/polyfill.ts', import.meta.url).pathname],
  },
})
