import assert from 'node:assert/strict';
import { isStoreUnavailable, StoreUnavailableError } from '../../shared/db/unavailable.js';

describe('unit: which errors mean a store is out of reach (503) rather than a bug (500)', () => {
  it('knows the network and connection errors of MySQL and Redis, also wrapped', () => {
    for (const err of [
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
      new Error('Connection is closed.'),
      { driverError: Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }) },
      new StoreUnavailableError('Redis did not answer in time'),
    ])
      assert.equal(isStoreUnavailable(err), true, String((err as Error).message));
  });

  it('knows what a Redis Cluster or Sentinel failover answers', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: ReplyError: MOVED 974 127.0.0.1:25825',
      "Cluster isn't ready and enableOfflineQueue options is false",
      'Failed to refresh slots cache.',
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      'LOADING Redis is loading the dataset in memory',
      "READONLY You can't write against a read only replica.",
    ])
      assert.equal(isStoreUnavailable(new Error(message)), true, message);
  });

  it('leaves a bad query, a script error and a wrong type to be reported as bugs', () => {
    for (const message of [
      'ER_PARSE_ERROR: You have an error in your SQL syntax',
      'ERR Error running script: attempt to compare nil with number',
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ])
      assert.equal(isStoreUnavailable(new Error(message)), false, message);
  });
});
