import assert from 'node:assert/strict';
import { PushedCache } from '../api/cache/pushed-cache.js';

function cacheAt(ttlMs: number, maxEntries?: number) {
  const clock = { now: 1_000_000 };
  const cache = new PushedCache<string>(ttlMs, maxEntries, () => clock.now);
  return { cache, clock };
}

describe('PushedCache', () => {
  it('remembers nothing until the invalidation feed is confirmed', () => {
    const { cache } = cacheAt(60_000);
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    assert.equal(cache.get('sess_a'), undefined);
    cache.trust();
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    assert.equal(cache.get('sess_a'), 'org_a');
  });

  it('answers from memory until the time limit, then not any more', () => {
    const { cache, clock } = cacheAt(60_000);
    cache.trust();
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    clock.now += 59_999;
    assert.equal(cache.get('sess_a'), 'org_a');
    clock.now += 1;
    assert.equal(cache.get('sess_a'), undefined);
  });

  it('forgets an entry that was announced as changed', () => {
    const { cache } = cacheAt(60_000);
    cache.trust();
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    cache.remember(cache.epoch(), 'sess_b', 'org_a');
    cache.forget('sess_a');
    assert.equal(cache.get('sess_a'), undefined);
    assert.equal(cache.get('sess_b'), 'org_a');
  });

  it('does not store a lookup that an invalidation overtook while it ran', () => {
    const { cache } = cacheAt(60_000);
    cache.trust();
    const before = cache.epoch();
    cache.forget('sess_a');
    cache.remember(before, 'sess_a', 'org_a');
    assert.equal(cache.get('sess_a'), undefined);
  });

  it('drops everything and stores nothing while the feed is down', () => {
    const { cache } = cacheAt(60_000);
    cache.trust();
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    const inFlight = cache.epoch();
    cache.distrust();
    assert.equal(cache.get('sess_a'), undefined);
    cache.remember(cache.epoch(), 'sess_b', 'org_b');
    assert.equal(cache.get('sess_b'), undefined);
    cache.trust();
    cache.remember(inFlight, 'sess_c', 'org_c');
    assert.equal(cache.get('sess_c'), undefined, 'a lookup begun before the outage is not stored after it');
  });

  it('is off with a time limit of 0', () => {
    const { cache } = cacheAt(0);
    cache.trust();
    cache.remember(cache.epoch(), 'sess_a', 'org_a');
    assert.equal(cache.get('sess_a'), undefined);
  });

  it('evicts the longest-held entry when full', () => {
    const { cache } = cacheAt(60_000, 2);
    cache.trust();
    for (const id of ['sess_a', 'sess_b', 'sess_c']) cache.remember(cache.epoch(), id, 'org');
    assert.equal(cache.get('sess_a'), undefined);
    assert.equal(cache.get('sess_b'), 'org');
    assert.equal(cache.get('sess_c'), 'org');
  });
});
