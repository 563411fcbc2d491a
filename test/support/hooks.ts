import { TestEnv } from './test-env.js';

/** The run's shared environment, started once before all tests and torn down after them. */
export let testEnv: TestEnv;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    testEnv = new TestEnv();
    await testEnv.start();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await testEnv?.stop();
  },
};
