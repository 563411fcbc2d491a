import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../transformers.js';

@Entity('organizations')
export class Organization {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;
}
