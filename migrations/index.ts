import { InitialSchema1732500000000 } from './1732500000000-InitialSchema.js';

/** Every migration, in order. Listed explicitly so compiled ESM needs no glob loading. */
export const MIGRATIONS = [InitialSchema1732500000000];
