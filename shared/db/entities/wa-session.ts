import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, nullableEpochMs } from '../transformers.js';

export const SESSION_STATUSES = ['pairing', 'connecting', 'online', 'offline', 'logged_out'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

@Entity('wa_sessions')
export class WaSession {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ name: 'organization_id', type: 'varchar', length: 64 })
  organizationId!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: SessionStatus;

  /** Why the session is in its status (a close reason, what it waits for); null when the status says it all. */
  @Column({ name: 'status_reason', type: 'varchar', length: 255, nullable: true })
  statusReason!: string | null;

  /** When the status last changed; null on rows created before it was recorded (then updatedAt). */
  @Column({ name: 'status_since', type: 'bigint', nullable: true, transformer: nullableEpochMs })
  statusSince!: number | null;

  /** When the worker tries to connect next, while a retry is scheduled. */
  @Column({ name: 'next_retry_at', type: 'bigint', nullable: true, transformer: nullableEpochMs })
  nextRetryAt!: number | null;

  @Column({ name: 'phone_jid', type: 'varchar', length: 64, nullable: true })
  phoneJid!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  lid!: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: number;

  @Column({ name: 'last_connected_at', type: 'bigint', nullable: true, transformer: nullableEpochMs })
  lastConnectedAt!: number | null;
}
