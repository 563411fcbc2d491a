import { InitialSchema1732500000000 } from './1732500000000-InitialSchema.js';
import { ContactListIndex1732600000000 } from './1732600000000-ContactListIndex.js';
import { ContactNameSource1732700000000 } from './1732700000000-ContactNameSource.js';
import { CheckBatches1732810000000 } from './1732810000000-CheckBatches.js';
import { ContactNameGrams1732900000000 } from './1732900000000-ContactNameGrams.js';
import { GatewaySecrets1733000000000 } from './1733000000000-GatewaySecrets.js';
import { CheckBatchCreator1733000001000 } from './1733000001000-CheckBatchCreator.js';
import { SessionStatusReason1733100000000 } from './1733100000000-SessionStatusReason.js';
import { Webhooks1733200000000 } from './1733200000000-Webhooks.js';
import { CheckAnswersAndPools1733300000000 } from './1733300000000-CheckAnswersAndPools.js';

/** Every migration, in order. Listed explicitly so compiled ESM needs no glob loading. */
export const MIGRATIONS = [
  InitialSchema1732500000000,
  ContactListIndex1732600000000,
  ContactNameSource1732700000000,
  CheckBatches1732810000000,
  ContactNameGrams1732900000000,
  GatewaySecrets1733000000000,
  CheckBatchCreator1733000001000,
  SessionStatusReason1733100000000,
  Webhooks1733200000000,
  CheckAnswersAndPools1733300000000,
];
