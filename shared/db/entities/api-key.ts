import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Capability } from '../../capabilities.js';
import { capabilityList, epochMs, nullableEpochMs } from '../transformers.js';

@Entity('api_keys')
export class ApiKey {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ name: 'organization_id', type: 'varchar', length: 64 })
  organizationId!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'secret_hash', type: 'char', length: 64 })
  secretHash!: string;

  @Column({ type: 'varchar', length: 100, transformer: capabilityList })
  capabilities!: Capability[];

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: nullableEpochMs })
  lastUsedAt!: number | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: nullableEpochMs })
  revokedAt!: number | null;
}
