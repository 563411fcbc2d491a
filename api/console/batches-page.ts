import { EVERY_ORGANIZATION } from '../auth/organization-scope.js';
import type { StoredBatch } from '../batches/check-batch-store.js';
import { CONSOLE_PATHS, layout, moment, sessionPath, statusBadge, type ConsoleViewer } from './console-layout.js';
import { html } from './html.js';

export type ConsoleBatch = StoredBatch;

export const batchCsvPath = (b: StoredBatch) => `${CONSOLE_PATHS.batches}/${encodeURIComponent(b.id)}/results.csv`;

/** An unfinished batch none of whose sessions can check right now. */
const waiting = (b: StoredBatch) =>
  (b.status === 'queued' || b.status === 'running') &&
  b.members.length > 0 &&
  b.members.every((m) => m.waitingFor !== null);

export function batchesPage(
  viewer: ConsoleViewer,
  batches: { running: ConsoleBatch[]; finished: ConsoleBatch[] },
): string {
  const everyOrganization = viewer.scope === EVERY_ORGANIZATION;
  const table = (caption: string, rows: ConsoleBatch[], empty: string) =>
    rows.length === 0
      ? html`<p>${empty}</p>`
      : html`<div class="table-wrap">
          <table class="cards">
            <caption>
              ${caption}
            </caption>
            <thead>
              <tr>
                <th scope="col">Batch</th>
                <th scope="col">Sessions</th>
                ${everyOrganization ? html`<th scope="col">Organization</th>` : ''}
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col" class="num">On WhatsApp</th>
                <th scope="col" class="num">Not on WhatsApp</th>
                <th scope="col" class="num">Invalid</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
                <th scope="col">Results</th>
              </tr>
            </thead>
            <tbody>
              ${rows.map(
                (b) =>
                  html`<tr>
                    <td data-label="Batch"><code>${b.id}</code></td>
                    <td data-label="Sessions">
                      ${b.members.map((m) => html`<a href="${sessionPath(m.sessionId)}"><code>${m.sessionId}</code></a> `)}
                    </td>
                    ${everyOrganization ? html`<td data-label="Organization"><code>${b.organizationId}</code></td>` : ''}
                    <td data-label="Status">
                      ${statusBadge(b.status)}${waiting(b) ? html`<br /><span class="muted">waiting: ${b.members.some((m) => m.waitingFor === 'daily_limit') ? 'daily limit reached' : 'no session online'}</span>` : ''}${b.errorMessage ? html`<br /><span class="muted">${b.errorMessage}</span>` : ''}
                    </td>
                    <td data-label="Progress">
                      <progress max="${b.total}" value="${b.done}" aria-label="${b.done} of ${b.total} numbers checked">
                        ${b.done} / ${b.total}
                      </progress>
                      ${b.done} / ${b.total}
                    </td>
                    <td data-label="On WhatsApp" class="num">${b.onWhatsApp}</td>
                    <td data-label="Not on WhatsApp" class="num">${b.notOnWhatsApp}</td>
                    <td data-label="Invalid" class="num">${b.invalid}</td>
                    <td data-label="Created">${moment(b.createdAt)}</td>
                    <td data-label="Finished">
                      ${b.finishedAt === null ? html`<span class="muted">—</span>` : moment(b.finishedAt)}
                    </td>
                    <td data-label="Results"><a href="${batchCsvPath(b)}" download>CSV</a></td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`;
  const body = html`${table('Running and queued', batches.running, 'No batch is running or queued.')}
    <h2>Recently finished</h2>
    ${table('Recently finished (newest first)', batches.finished, 'No batch has finished yet.')}`;
  return layout(viewer, { title: 'Check batches', section: 'batches', body });
}
