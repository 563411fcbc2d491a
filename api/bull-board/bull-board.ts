import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router, type RequestHandler } from 'express';
import type { WatchedQueue } from '../queues/watched-queues.js';

/** Bull Board's page loads IBM Plex from Google Fonts; without it the board uses the system's sans-serif. */
const GOOGLE_FONTS_LINK = /<link[^>]+href="https:\/\/fonts\.googleapis\.com\/[^>]*>\s*/g;

/** Bull Board sets inline styles (React), so styles need 'unsafe-inline'; scripts, fonts and data come only from this origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  // The page sets <base href> to its own mount path.
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Bull Board's own Express app, serving the given queues under `basePath`, with links to the
 * console. `readOnly` hides the action buttons; what stops a read-only caller's action is the
 * method check in front of it (admin-routes.ts), not this.
 */
export function bullBoardRouter(
  queues: readonly WatchedQueue[],
  basePath: string,
  readOnly: boolean,
  links: { console: string; signOut: string },
): RequestHandler {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    // Bull Board keys queues by name and every shard's queue is called `live`: the adapter prefix makes each unique.
    queues: queues.map(
      (w) => new BullMQAdapter(w.queue, { displayName: w.label, prefix: adapterPrefix(w), readOnlyMode: readOnly }),
    ),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'WhatsApp Gateway',
        miscLinks: [
          { text: 'Console: sessions, workers, batches', url: links.console },
          { text: 'Sign out', url: links.signOut },
        ],
      },
    },
  });
  return Router().use(servedLocally, serverAdapter.getRouter() as RequestHandler);
}

/** The board's address of one queue, e.g. `/admin/queues/queue/shard-3.live`. */
export function bullBoardQueuePath(basePath: string, queue: WatchedQueue): string {
  return `${basePath}/queue/${encodeURIComponent(`${adapterPrefix(queue)}${queue.queue.name}`)}`;
}

function adapterPrefix(queue: WatchedQueue): string {
  return queue.shard === undefined ? '' : `shard-${queue.shard}.`;
}

/** The board's page without the Google Fonts link, under a policy that would refuse any other site's script, font or style. */
const servedLocally: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  const render = res.render.bind(res) as (
    view: string,
    options: object,
    done: (err: Error | null, html?: string) => void,
  ) => void;
  res.render = (view: string, options?: object) =>
    render(view, options ?? {}, (err, html) =>
      err ? next(err) : void res.send((html ?? '').replace(GOOGLE_FONTS_LINK, '')),
    );
  next();
};
