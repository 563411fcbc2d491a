import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import type { WatchedQueue } from '../queues/watched-queues.js';

/**
 * Bull Board's own Express app, serving the given queues under `basePath`. `readOnly` hides the
 * action buttons; what stops a read-only caller's action is the method check in front of it
 * (admin-routes.ts), not this.
 */
export function bullBoardRouter(queues: readonly WatchedQueue[], basePath: string, readOnly: boolean): RequestHandler {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    // Bull Board keys queues by name and every shard's queue is called `live`: the adapter prefix makes each unique.
    queues: queues.map((w) => new BullMQAdapter(w.queue, { displayName: w.label, prefix: w.shard === undefined ? '' : `shard-${w.shard}.`, readOnlyMode: readOnly })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'WhatsApp Gateway' } },
  });
  return serverAdapter.getRouter() as RequestHandler;
}
