/**
 * The simulator's fixed CI set (issue 10 §4): small meshes of real pure cores on a virtual
 * clock, several seeds per scenario, every invariant checked as they act. And the proof the
 * checks bite: a planted bug (a router that ignores epochs) is caught, with a replay line.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { loadDelays } from './sim/membership-model.js'
import { runSimulation, type SimReport } from './sim/run.js'
import { setUpScenario, type ScenarioName } from './sim/scenarios.js'
import type { Plant, SimOptions } from './sim/world.js'

function simulate(
  scenario: ScenarioName,
  seed: number,
  plant?: Plant,
  more: Partial<SimOptions> = {},
): SimReport {
  return runSimulation(
    {
      peers: 60,
      seed,
      seconds: 20,
      ratePerSec: 150,
      owners: 60,
      ownerLimit: 10,
      serviceMeanMs: 20,
      retryShare: 0.05,
      plant,
      ...more,
    },
    scenario,
    setUpScenario,
  )
}

describe('the simulator', () => {
  for (const scenario of [
    'steady',
    'mass-join',
    'crash',
    'churn',
    'stall',
    'partition-heal',
  ] as const) {
    it(`keeps every invariant in ${scenario}, over 5 seeds`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const report = simulate(scenario, seed)
        expect(report.violations, report.replay).toEqual([])
        expect(report.line).toMatch(
          new RegExp(`^sim: peers=60 seed=${seed} scenario=${scenario} invariants=ok wall=`),
        )
        // A run that did nothing would pass trivially.
        expect(report.invocations).toBeGreaterThan(1_000)
        expect(report.checks).toBeGreaterThan(report.invocations)
        // The two sides' duplicate schedulers merged after the heal (partition-heal only).
        if (scenario === 'partition-heal')
          expect(report.mergedAfterHealS, report.replay).not.toBeNull()
      }
    }, 120_000)
  }

  it('replays a seed exactly', () => {
    const figures = (r: SimReport) => ({ ...r, wallS: 0, rssMiB: 0, line: '' })
    expect(figures(simulate('churn', 7))).toEqual(figures(simulate('churn', 7)))
    expect(simulate('churn', 8).invocations).not.toBe(simulate('churn', 7).invocations)
  }, 60_000)

  it('catches a router that ignores epochs, and says how to replay it', () => {
    const report = simulate('churn', 1, 'ignore-epochs')
    expect(report.violations.length).toBeGreaterThan(0)
    expect(report.line).toContain('invariants=VIOLATED')
    expect(report.replay).toBe(
      'npm run sim -- --peers 60 --seed 1 --scenario churn --seconds 20 --rate 150 --plant ignore-epochs',
    )
    const [first] = report.violations
    expect(first?.recent.length).toBeGreaterThan(0)
  }, 60_000)

  it('catches a peer that serves what reached it during a pause before asking its directory', () => {
    // Stalled past its suspicion timeout, its schedulers were claimed elsewhere; without the
    // fence it runs a forwarded invocation the other side already ran for the entry's retry.
    const caught = [1, 2, 3, 4, 5].map((seed) => simulate('stall', seed, 'no-pause-fence'))
    const violations = caught.flatMap((r) => r.violations.map((v) => v.invariant))
    expect(violations.length, 'no seed of five caught it').toBeGreaterThan(0)
    expect(violations.filter((v) => v === 'result-once' || v === 'idempotent')).toEqual(violations)
  }, 60_000)

  it('models membership past the real core: the same mesh decides alike with either', () => {
    for (const scenario of ['steady', 'crash', 'churn'] as const) {
      const more = { peers: 150, ratePerSec: 300, owners: 150 }
      const real = simulate(scenario, 3, undefined, more)
      const modelled = simulate(scenario, 3, undefined, { ...more, membershipDelays: loadDelays() })
      expect(modelled.violations, modelled.replay).toEqual([])
      expect(modelled.membership).toMatch(/^modelled, with delays the real core showed at/)
      expect(modelled.replay).toContain('--membership model')
      // Same clients, same routing: within a few per cent of each other.
      expect(Math.abs(modelled.invocations - real.invocations)).toBeLessThan(
        real.invocations * 0.05,
      )
      expect(Math.abs(modelled.hops.mean - real.hops.mean)).toBeLessThan(0.15)
    }
  }, 120_000)

  it('refuses to model what only the real core reacts to, and to run it past its size', async () => {
    const run = promisify(execFile)
    const sim = async (args: string[]) => {
      const cli = ['--conditions=chorus-source', '--import', 'tsx', 'test/sim/cli.ts', ...args]
      try {
        await run(process.execPath, cli)
        return { code: 0, stderr: '' }
      } catch (err) {
        const { code, stderr } = err as { code: number; stderr: string }
        return { code, stderr }
      }
    }
    const stall = await sim(['--peers', '100', '--scenario', 'stall', '--membership', 'model'])
    expect(stall.code).toBe(2)
    expect(stall.stderr).toMatch(/stall needs the real membership core/)
    const big = await sim(['--peers', '3000', '--membership', 'real'])
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/runs up to 2000 peers/)
  }, 60_000)
})
