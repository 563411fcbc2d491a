import { bullBoardQueuePath } from '../bull-board/bull-board.js';
import { ago, CONSOLE_PATHS, layout, moment, type ConsoleViewer } from './console-layout.js';
import type { QueueDepth, ShardState, WorkerState } from './fleet-status.js';
import { html, type SafeHtml } from './html.js';

export function workersPage(
  viewer: ConsoleViewer,
  fleet: { workers: WorkerState[]; shards: ShardState[] },
  now: number,
): string {
  const workerRows = fleet.workers.map(
    (w) =>
      html`<tr>
        <td data-label="Worker"><code>${w.id}</code></td>
        <td data-label="Last heartbeat">
          ${w.lastHeartbeat === undefined ? html`<span class="muted">not registered</span>` : html`${ago(w.lastHeartbeat, now)} <span class="muted">(${moment(w.lastHeartbeat)})</span>`}
        </td>
        <td data-label="Shards">${w.shards.length ? w.shards.join(', ') : html`<span class="muted">none</span>`}</td>
        <td data-label="Sessions" class="num">${w.sessions}</td>
        <td data-label="Online" class="num">${w.online}</td>
        <td data-label="Next lease expiry">
          ${w.nextLeaseExpiry === null ? html`<span class="muted">—</span>` : ago(w.nextLeaseExpiry, now)}
        </td>
      </tr>`,
  );
  const shardRows = fleet.shards.map(
    (s) =>
      html`<tr>
        <td data-label="Shard" class="num">${s.shard}</td>
        <td data-label="Worker">${s.holder ? html`<code>${s.holder}</code>` : html`<strong>none</strong>`}</td>
        <td data-label="Lease expires">
          ${s.leaseExpiresAt === null ? html`<span class="muted">—</span>` : ago(s.leaseExpiresAt, now)}
        </td>
        <td data-label="Sessions" class="num">${s.sessions}</td>
        <td data-label="Online" class="num">${s.online}</td>
        <td data-label="Live queue">${queueCell(viewer, s.live)}</td>
        <td data-label="Batch queue">${queueCell(viewer, s.batch)}</td>
      </tr>`,
  );
  const body = html` <p class="muted">
      As the workers last wrote it to Redis: heartbeats and leases are renewed every few seconds; a dead worker’s shards
      are taken over when its leases expire. Reload for fresh figures.
    </p>
    <div class="table-wrap">
      <table class="cards">
        <caption>
          Workers (${fleet.workers.length})
        </caption>
        <thead>
          <tr>
            <th scope="col">Worker</th>
            <th scope="col">Last heartbeat</th>
            <th scope="col">Shards</th>
            <th scope="col" class="num">Sessions</th>
            <th scope="col" class="num">Online</th>
            <th scope="col">Next lease expiry</th>
          </tr>
        </thead>
        <tbody>
          ${
            workerRows.length
              ? workerRows
              : html`<tr>
                  <td colspan="6">No worker is registered.</td>
                </tr>`
          }
        </tbody>
      </table>
    </div>
    <h2>Shards</h2>
    <div class="table-wrap">
      <table class="cards">
        <caption>
          Shards (${fleet.shards.length}): queue depth as waiting / active / delayed
        </caption>
        <thead>
          <tr>
            <th scope="col" class="num">Shard</th>
            <th scope="col">Worker</th>
            <th scope="col">Lease expires</th>
            <th scope="col" class="num">Sessions</th>
            <th scope="col" class="num">Online</th>
            <th scope="col">Live queue</th>
            <th scope="col">Batch queue</th>
          </tr>
        </thead>
        <tbody>
          ${shardRows}
        </tbody>
      </table>
    </div>`;
  return layout(viewer, { title: 'Workers and shards', section: 'workers', body });
}

function queueCell(viewer: ConsoleViewer, queue: ShardState['live']): SafeHtml {
  if (!queue) return html`<span class="muted">—</span>`;
  const text = depthText(queue.depth);
  return viewer.bullBoard
    ? html`<a
        href="${bullBoardQueuePath(CONSOLE_PATHS.queues, queue.queue)}"
        aria-label="${queue.queue.label} in Bull Board: ${text}"
        >${text}</a
      >`
    : html`${text}`;
}

function depthText(depth: QueueDepth | undefined): string {
  return depth ? `${depth.waiting} / ${depth.active} / ${depth.delayed}` : 'unknown';
}
