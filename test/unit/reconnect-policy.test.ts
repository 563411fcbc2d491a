import assert from 'node:assert/strict';
import { DisconnectReason } from '@whiskeysockets/baileys';
import {
  backoffDelay,
  closeAction,
  closeStatusCode,
  DEFAULT_BACKOFF,
  VERSION_REJECTED,
} from '../../worker/driver/baileys/reconnect-policy.js';

/** What Baileys closes a socket with: a Boom-shaped error carrying the status code. */
function closedWith(statusCode: number, message = 'Connection Failure'): Error {
  return Object.assign(new Error(message), { output: { statusCode } });
}

describe('unit: reconnect policy', () => {
  it('restarts at once when WhatsApp asks for a new socket', () => {
    assert.equal(closeAction(closedWith(DisconnectReason.restartRequired)).kind, 'restart');
  });

  it('forgets the credentials when the device was unlinked', () => {
    assert.equal(closeAction(closedWith(DisconnectReason.loggedOut)).kind, 'logged_out');
  });

  it('stays offline when reconnecting would fight another client or a ban', () => {
    for (const code of [
      DisconnectReason.connectionReplaced,
      DisconnectReason.forbidden,
      DisconnectReason.multideviceMismatch,
    ]) {
      assert.equal(closeAction(closedWith(code)).kind, 'stop', `code ${code}`);
    }
  });

  it('waits for another WhatsApp Web version after a 405', () => {
    assert.deepEqual(closeAction(closedWith(VERSION_REJECTED)), {
      kind: 'version_rejected',
      reason: 'clientOutdated (405)',
    });
  });

  it('retries everything transient, and a close without a code', () => {
    for (const code of [
      DisconnectReason.timedOut,
      DisconnectReason.connectionClosed,
      DisconnectReason.badSession,
      DisconnectReason.unavailableService,
      599,
    ]) {
      assert.equal(closeAction(closedWith(code)).kind, 'retry', `code ${code}`);
    }
    assert.deepEqual(closeAction(new Error('socket hang up')), { kind: 'retry', reason: 'socket hang up' });
    assert.equal(closeStatusCode(undefined), undefined);
  });

  it('names the code and what the network said in the reason', () => {
    const reason = closeAction(
      closedWith(DisconnectReason.timedOut, 'WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)'),
    ).reason;
    assert.equal(reason, 'timedOut (408): getaddrinfo ENOTFOUND web.whatsapp.com');
    assert.equal(closeAction(closedWith(599)).reason, 'status 599');
  });

  it('backs off exponentially with equal jitter: between half and all of the ceiling, never 0', () => {
    const low = () => 0;
    const high = () => 1;
    assert.equal(backoffDelay(0, DEFAULT_BACKOFF, low), 500);
    assert.equal(backoffDelay(0, DEFAULT_BACKOFF, high), 1_000);
    assert.equal(backoffDelay(3, DEFAULT_BACKOFF, low), 4_000);
    assert.equal(backoffDelay(3, DEFAULT_BACKOFF, high), 8_000);
  });

  it('never waits longer than the maximum, however many attempts failed', () => {
    assert.equal(
      backoffDelay(50, DEFAULT_BACKOFF, () => 1),
      DEFAULT_BACKOFF.maxMs,
    );
    assert.equal(
      backoffDelay(50, DEFAULT_BACKOFF, () => 0),
      DEFAULT_BACKOFF.maxMs / 2,
    );
    assert.equal(
      backoffDelay(-3, { initialMs: 100, maxMs: 1_000, factor: 3 }, () => 1),
      100,
    );
  });
});
