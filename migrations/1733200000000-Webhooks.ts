import type { MigrationInterface, QueryRunner } from 'typeorm';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

/**
 * Webhooks: the endpoints organizations register, the events written where they happen (the
 * outbox, in the same transaction as the change), and one delivery row per event and endpoint.
 * A delivery is `queued` in MySQL until the relay puts it on the BullMQ queue (`attempting`), and
 * ends `succeeded` or `failed`. The secret is kept in clear: signing needs it.
 */
export class Webhooks1733200000000 implements MigrationInterface {
  name = 'Webhooks1733200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE webhook_endpoints (
      id VARCHAR(40) ${ASCII} NOT NULL,
      organization_id VARCHAR(64) ${ASCII} NOT NULL,
      url VARCHAR(2048) ${ASCII} NOT NULL,
      description VARCHAR(500) NULL,
      events VARCHAR(400) ${ASCII} NOT NULL,
      enabled TINYINT(1) NOT NULL DEFAULT 1,
      disabled_reason VARCHAR(500) NULL,
      secret VARCHAR(100) ${ASCII} NOT NULL,
      previous_secret VARCHAR(100) ${ASCII} NULL,
      previous_secret_expires_at BIGINT NULL,
      failing_since BIGINT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (id),
      KEY idx_webhook_endpoints_org (organization_id, id),
      CONSTRAINT fk_webhook_endpoints_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // The per-session event counter; its row lock orders a session's events as their transactions commit.
    await q.query(`CREATE TABLE webhook_session_seqs (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      last_seq BIGINT UNSIGNED NOT NULL,
      PRIMARY KEY (session_id),
      CONSTRAINT fk_webhook_session_seqs_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // body is the exact JSON every delivery of the event sends (and signs). Events outlive their
    // session (a session.status "logged_out" still has to reach the receiver); retention drops them.
    await q.query(`CREATE TABLE webhook_events (
      id VARCHAR(40) ${ASCII} NOT NULL,
      organization_id VARCHAR(64) ${ASCII} NOT NULL,
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      seq BIGINT UNSIGNED NOT NULL,
      type VARCHAR(40) ${ASCII} NOT NULL,
      body MEDIUMTEXT NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (id),
      KEY idx_webhook_events_created (created_at),
      CONSTRAINT fk_webhook_events_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // (status, endpoint_id, id) serves the relay (endpoints with queued deliveries, the oldest of
    // each, how many are in the queue) and the in-order check of session.status; (endpoint_id, id)
    // the delivery list; the unique key a redelivery by event id.
    await q.query(`CREATE TABLE webhook_deliveries (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      endpoint_id VARCHAR(40) ${ASCII} NOT NULL,
      event_id VARCHAR(40) ${ASCII} NOT NULL,
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      event_type VARCHAR(40) ${ASCII} NOT NULL,
      status VARCHAR(16) ${ASCII} NOT NULL,
      generation INT UNSIGNED NOT NULL DEFAULT 0,
      attempts INT UNSIGNED NOT NULL DEFAULT 0,
      response_status SMALLINT UNSIGNED NULL,
      latency_ms INT UNSIGNED NULL,
      error VARCHAR(500) NULL,
      last_attempt_at BIGINT NULL,
      next_attempt_at BIGINT NULL,
      delivered_at BIGINT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY uq_webhook_deliveries_event (endpoint_id, event_id),
      KEY idx_webhook_deliveries_endpoint (endpoint_id, id),
      KEY idx_webhook_deliveries_status (status, endpoint_id, id),
      KEY idx_webhook_deliveries_event (event_id),
      CONSTRAINT fk_webhook_deliveries_endpoint FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      CONSTRAINT fk_webhook_deliveries_event FOREIGN KEY (event_id) REFERENCES webhook_events (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['webhook_deliveries', 'webhook_events', 'webhook_session_seqs', 'webhook_endpoints'])
      await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}
