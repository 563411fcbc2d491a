import { once } from 'node:events';
import type { Response } from 'express';
import type { NumberStatus } from '../../shared/batches/check-batch-jobs.js';
import type { CheckBatchStore, StoredBatch } from './check-batch-store.js';
import { csvCell } from './csv-cell.js';

const CSV_PAGE = 5_000;
const CSV_COLUMNS = [
  'phone',
  'normalized',
  'status',
  'jid',
  'lid',
  'checkedAt',
  'cached',
  'matchedAs',
  'reason',
] as const;

/** Every result row of a batch (of one status, if given) as one CSV download, read a page at a time; for the API and the console. */
export async function streamCsv(
  res: Response,
  batch: StoredBatch,
  status: NumberStatus | undefined,
  store: CheckBatchStore,
): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${batch.id}.csv"`);
  res.write(`${CSV_COLUMNS.join(',')}\n`);
  let afterSeq = 0;
  for (;;) {
    const page = await store.results(batch.id, afterSeq, CSV_PAGE, status);
    const lines = page.rows
      .map((r) =>
        [
          csvCell(r.phone, r.status !== 'invalid'),
          ...[r.normalized, r.status, r.jid, r.lid, r.checkedAt, String(r.cached), r.matchedAs, r.reason].map((v) =>
            csvCell(v),
          ),
        ].join(','),
      )
      .join('\n');
    if (lines && !res.write(`${lines}\n`)) await once(res, 'drain');
    const last = page.rows[page.rows.length - 1];
    if (!page.hasMore || !last || res.destroyed) break;
    afterSeq = last.seq;
  }
  res.end();
}
