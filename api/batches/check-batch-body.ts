import { MAX_BATCH_NUMBERS, MAX_GIVEN_PHONE_LENGTH } from '../../shared/batches/check-batch-jobs.js';
import type { BodyLimits } from '../http/request-body.js';

/**
 * What creating a batch reads at most: 50,000 entries of up to 64 characters, quoted and
 * separated, in JSON (about 3.4 MB); a CSV may carry a few other columns beside the phone.
 */
export const CHECK_BATCH_BODY_LIMITS: BodyLimits = {
  jsonBytes: MAX_BATCH_NUMBERS * (MAX_GIVEN_PHONE_LENGTH + 4) + 1024,
  text: { types: ['text/csv', 'text/plain'], bytes: 8 * 1024 * 1024 },
};
