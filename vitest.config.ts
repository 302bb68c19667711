import { defineConfig } from 'vitest/config'

const packages = ['scheduler-core', 'gossip', 'migration', 'node']

export default defineConfig({
  resolve: { conditions: ['chorus-source'] },
  test: {
    passWithNoTests: true,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: {
          name,
          root: `packages/${name}`,
          include: ['test/**/*.spec.ts'],
          setupFiles: [new URL('./packages/node/src/polyfill.ts', import.meta.url).pathname],
        },
      })),
      {
        extends: true as const,
        test: {
          name: 'integration',
          include: ['test/**/*.spec.ts'],
          // 30 peer processes want the machine to themselves: vitest.storm.config.ts.
          exclude: ['test/join-storm.spec.ts'],
          setupFiles: [new URL('./packages/node/src/polyfill.ts', import.meta.url).pathname],
        },
      },
    ],
  },
})
