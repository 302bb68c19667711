// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import prettier from 'eslint-config-prettier'
import { importX } from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

/** Another package is reached through its exports, never by a path into its sources. */
const deepImports = {
  group: ['@chorus/*/src', '@chorus/*/src/**', '@chorus/*/dist/**'],
  message: 'Import another package by its name (its exports), not a path into its src/.',
}

/** Files that must stay pure: no I/O, no clock, no randomness of their own. */
const pureCores = [
  'packages/scheduler-core/src/**/*.ts',
  'packages/gossip/src/core/**/*.ts',
  'packages/node/src/choreography/**/*.ts',
  'packages/node/src/core/**/*.ts',
  'packages/node/src/definitions/{canonical-json,hlc,definition-op,definition-log,sync-session,function-spec,digest}.ts',
  'packages/node/src/function-host/response-parser.ts',
  'packages/node/src/names.ts',
]

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.dev.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Fire-and-forget has one shape, `background(work, onFailure)`: a `void promise` hides
      // a rejection, and a two-argument `.then` lets a throwing fulfil handler escape.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='then'][arguments.length>=2]",
          message:
            'A throw in the fulfil handler of a two-argument .then escapes as an unhandled rejection: await in a try, or use background().',
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Packages' sources: no import cycles, no reaching into another package.
    files: ['packages/*/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: './tsconfig.dev.json',
          conditionNames: ['chorus-source', 'types', 'import', 'default'],
        }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-relative-packages': 'error',
      'no-restricted-imports': ['error', { patterns: [deepImports] }],
    },
  },
  {
    files: pureCores,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            deepImports,
            { group: ['node:*'], message: 'Pure cores do no I/O: no node:* modules.' },
            {
              group: ['*libp2p*', '@libp2p/*'],
              message: 'Pure cores know nothing of the network.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'Pure cores read no clock: take `now` as an argument.' },
        { name: 'setTimeout', message: 'Pure cores have no timers: expose nextDeadline().' },
        { name: 'setInterval', message: 'Pure cores have no timers: expose nextDeadline().' },
        { name: 'setImmediate', message: 'Pure cores have no timers.' },
        { name: 'performance', message: 'Pure cores read no clock.' },
        { name: 'process', message: 'Pure cores do no I/O.' },
        { name: 'fetch', message: 'Pure cores do no I/O.' },
        { name: 'crypto', message: 'Pure cores draw no randomness of their own.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Pure cores take an injected rng.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
)
