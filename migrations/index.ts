import { InitialSchema1732500000000 } from './1732500000000-InitialSchema.js';
import { ContactListIndex1732600000000 } from './1732600000000-ContactListIndex.js';
import { ContactNameSource1732700000000 } from './1732700000000-ContactNameSource.js';
import { CheckBatches1732810000000 } from './1732810000000-CheckBatches.js';
import { ContactNameGrams1732900000000 } from './1732900000000-ContactNameGrams.js';
import { SessionStatusReason1733100000000 } from './1733100000000-SessionStatusReason.js';

/** Every migration, in order. Listed explicitly so compiled ESM needs no glob loading. */
export const MIGRATIONS = [InitialSchema1732500000000, ContactListIndex1732600000000, ContactNameSource1732700000000, CheckBatches1732810000000, ContactNameGrams1732900000000, SessionStatusReason1733100000000];
