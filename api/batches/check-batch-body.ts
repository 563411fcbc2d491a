import express, { Router } from 'express';

/** 50,000 numbers in a roomy notation, or a CSV export with a few other columns. */
const BODY_LIMIT = '8mb';

export const CHECK_BATCH_CREATE_PATHS = ['/api/v1/sessions/:session/contacts/check-batch', '/api/v1/check-batches'];

/**
 * Body parsers for creating a batch, mounted before the app-wide JSON parser: a batch body may
 * be larger than other requests, and may be CSV or plain text.
 */
export function checkBatchBodyParsers(): Router {
  const router = Router();
  router.post(CHECK_BATCH_CREATE_PATHS, express.json({ limit: BODY_LIMIT }), express.text({ type: ['text/csv', 'text/plain'], limit: BODY_LIMIT }));
  return router;
}
