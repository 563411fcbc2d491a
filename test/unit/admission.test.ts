import assert from 'node:assert/strict';
import type { Response } from 'express';
import { admissionOf, firstRefusal, setAdmission } from '../../api/http/admission.js';
import { sleep } from './fakes.js';

function fakeResponse(): Response {
  return { locals: {} } as unknown as Response;
}

describe('unit: admission', () => {
  it('admits a request nobody rate-limited', async () => {
    await admissionOf(fakeResponse());
  });

  it('hands the route the verdict it was given, refusal included', async () => {
    const res = fakeResponse();
    setAdmission(res, Promise.reject(new Error('rate limited')));
    await assert.rejects(admissionOf(res), /rate limited/);
  });

  it('does not crash the process when a refused request ended before anyone read the verdict', async () => {
    let unhandled: unknown;
    const onUnhandled = (reason: unknown) => (unhandled = reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      setAdmission(fakeResponse(), Promise.reject(new Error('never read')));
      await sleep(20);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.equal(unhandled, undefined);
  });

  it('waits for every check before answering, even after an early refusal', async () => {
    let slowDone = false;
    const slow = sleep(40).then(() => (slowDone = true));
    await assert.rejects(firstRefusal([Promise.reject(new Error('early')), slow]), /early/);
    assert.equal(slowDone, true, 'a side effect could start while a check is still running');
  });

  it('reports the refusal of the first check given, not the first to finish', async () => {
    const gate = sleep(30).then(() => {
      throw new Error('rate limited');
    });
    const presence = Promise.reject(new Error('not connected'));
    await assert.rejects(firstRefusal([gate, presence]), /rate limited/);
  });

  it('passes when every check passes', async () => {
    await firstRefusal([Promise.resolve(1), sleep(5)]);
  });
});
