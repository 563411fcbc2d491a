import assert from 'node:assert/strict';
import { LoginGate } from '../worker/driver/baileys/login-gate.js';

describe('LoginGate: how many sockets of a worker log in at once', () => {
  it('lets `limit` in at once and the next one in only when a slot is given back', async () => {
    const gate = new LoginGate(2);
    const first = await gate.enter();
    const second = await gate.enter();
    let thirdIn = false;
    const third = gate.enter().then((leave) => {
      thirdIn = true;
      return leave;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(thirdIn, false, 'a third waits while two are in');
    assert.equal(gate.inUse, 2);
    first();
    const leaveThird = await third;
    assert.equal(thirdIn, true);
    assert.equal(gate.inUse, 2, 'the slot was handed over, not freed and taken');
    second();
    leaveThird();
    assert.equal(gate.inUse, 0);
  });

  it('counts a slot given back twice once', async () => {
    const gate = new LoginGate(1);
    const leave = await gate.enter();
    leave();
    leave();
    assert.equal(gate.inUse, 0);
    await gate.enter();
    assert.equal(gate.inUse, 1);
  });

  it('never lets a newcomer overtake a waiter when a slot is handed over', async () => {
    const gate = new LoginGate(1);
    const order: string[] = [];
    const leave = await gate.enter();
    const waiter = gate.enter().then((l) => (order.push('waiter'), l));
    leave();
    const newcomer = gate.enter().then((l) => (order.push('newcomer'), l));
    (await waiter)();
    (await newcomer)();
    assert.deepEqual(order, ['waiter', 'newcomer']);
    assert.equal(gate.inUse, 0);
  });
});
