// Mutation testing (`npm run mutate`, docs/testing.md): StrykerJS plants small bugs in the
// portable core, one at a time, and runs the tests that cover each; a mutant that no test
// notices is a gap in the tests. The TAP runner runs Node's own test files directly.
const folder = process.env.FATA_MUTATE ?? 'src/wire';
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  // Every unit test beside the code may cover the folder (the DNS codec's tests live in src/net/dns); per-test
  // coverage then runs only the tests that reach each mutant.
  // FATA_MUTATE_TESTS (comma-separated globs) narrows the test files for a quicker run on one file.
  tap: { testFiles: (process.env.FATA_MUTATE_TESTS ?? 'src/**/*.test.ts').split(','), nodeArgs: ['--test-reporter=tap'] },
  mutate: [`${folder}/**/*.ts`, `!${folder}/**/*.test.ts`],
  coverageAnalysis: 'perTest',
  reporters: ['html', 'clear-text', 'progress', 'json'],
  htmlReporter: { fileName: `reports/mutation/${folder.replace(/\//g, '-')}.html` },
  jsonReporter: { fileName: `reports/mutation/${folder.replace(/\//g, '-')}.json` },
  concurrency: Number(process.env.FATA_MUTATE_JOBS ?? 2),
  timeoutMS: 20000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
