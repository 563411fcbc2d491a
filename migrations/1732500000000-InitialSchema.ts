import type { MigrationInterface, QueryRunner } from 'typeorm';

const ASCII = 'CHARACTER SET ascii COLLATE ascii_bin';
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci';

/**
 * Timestamps are BIGINT epoch milliseconds: the API speaks epoch ms, and BIGINT avoids
 * every session-time-zone conversion between MySQL 8 and MariaDB.
 */
export class InitialSchema1732500000000 implements MigrationInterface {
  name = 'InitialSchema1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE organizations (
      id VARCHAR(64) ${ASCII} NOT NULL,
      name VARCHAR(200) NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (id)
    ) ${TABLE_OPTIONS}`);

    await q.query(`CREATE TABLE api_keys (
      id VARCHAR(40) ${ASCII} NOT NULL,
      organization_id VARCHAR(64) ${ASCII} NOT NULL,
      name VARCHAR(200) NOT NULL,
      secret_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      capabilities VARCHAR(100) NOT NULL,
      created_at BIGINT NOT NULL,
      last_used_at BIGINT NULL,
      revoked_at BIGINT NULL,
      PRIMARY KEY (id),
      KEY idx_api_keys_org (organization_id, created_at),
      CONSTRAINT fk_api_keys_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    await q.query(`CREATE TABLE wa_sessions (
      id VARCHAR(40) ${ASCII} NOT NULL,
      organization_id VARCHAR(64) ${ASCII} NOT NULL,
      name VARCHAR(200) NULL,
      status VARCHAR(16) NOT NULL,
      phone_jid VARCHAR(64) ${ASCII} NULL,
      lid VARCHAR(64) ${ASCII} NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      last_connected_at BIGINT NULL,
      PRIMARY KEY (id),
      KEY idx_wa_sessions_org (organization_id, id),
      CONSTRAINT fk_wa_sessions_org FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // lid and phone_jid are each unique per session; either may be unknown (NULL) for a while.
    await q.query(`CREATE TABLE contacts (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      lid VARCHAR(64) ${ASCII} NULL,
      phone_jid VARCHAR(64) ${ASCII} NULL,
      phone_number VARCHAR(20) ${ASCII} NULL,
      name VARCHAR(255) NULL,
      business_name VARCHAR(255) NULL,
      dm TINYINT(1) NOT NULL DEFAULT 0,
      first_seen_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY uq_contacts_session_lid (session_id, lid),
      UNIQUE KEY uq_contacts_session_phone (session_id, phone_jid),
      KEY idx_contacts_session_dm (session_id, dm, id),
      CONSTRAINT fk_contacts_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    await q.query(`CREATE TABLE wa_groups (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      jid VARCHAR(128) ${ASCII} NOT NULL,
      subject VARCHAR(255) NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (session_id, jid),
      CONSTRAINT fk_wa_groups_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    // The primary key doubles as the keyset index for "members of one group, by contact id".
    await q.query(`CREATE TABLE group_members (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      group_jid VARCHAR(128) ${ASCII} NOT NULL,
      contact_id BIGINT UNSIGNED NOT NULL,
      tag VARCHAR(255) NULL,
      role VARCHAR(16) NOT NULL DEFAULT 'member',
      last_seen BIGINT NOT NULL,
      PRIMARY KEY (session_id, group_jid, contact_id),
      KEY idx_group_members_contact (contact_id),
      CONSTRAINT fk_group_members_contact FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
      CONSTRAINT fk_group_members_group FOREIGN KEY (session_id, group_jid) REFERENCES wa_groups (session_id, jid) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    await q.query(`CREATE TABLE wa_auth_creds (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      creds MEDIUMTEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (session_id),
      CONSTRAINT fk_wa_auth_creds_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);

    await q.query(`CREATE TABLE wa_auth_keys (
      session_id VARCHAR(40) ${ASCII} NOT NULL,
      type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      key_id VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      value MEDIUMTEXT NOT NULL,
      PRIMARY KEY (session_id, type, key_id),
      CONSTRAINT fk_wa_auth_keys_session FOREIGN KEY (session_id) REFERENCES wa_sessions (id) ON DELETE CASCADE
    ) ${TABLE_OPTIONS}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'wa_auth_keys',
      'wa_auth_creds',
      'group_members',
      'wa_groups',
      'contacts',
      'wa_sessions',
      'api_keys',
      'organizations',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
