import { SESSION_STATUSES } from '../../shared/db/entities/wa-session.js';
import { EVERY_ORGANIZATION } from '../auth/organization-scope.js';
import type { SessionView } from '../sessions/session-schemas.js';
import {
  CONSOLE_PATHS,
  csrfField,
  layout,
  moment,
  sessionPath,
  statusBadge,
  type ConsoleViewer,
} from './console-layout.js';
import { html } from './html.js';
import type { SessionDetail } from './session-details.js';

export interface SessionListRow {
  view: SessionView;
  detail: SessionDetail | undefined;
  worker: string | null;
}

export interface SessionListPage {
  rows: SessionListRow[];
  status: string | undefined;
  organization: string | undefined;
  /** The next page's address, when there is one. */
  nextHref: string | undefined;
  notice: string | undefined;
}

export function sessionsPage(viewer: ConsoleViewer, page: SessionListPage): string {
  const everyOrganization = viewer.scope === EVERY_ORGANIZATION;
  const filters = html`<form
    class="filters"
    method="get"
    action="${CONSOLE_PATHS.sessions}"
    role="search"
    aria-label="Filter sessions"
  >
    <div>
      <label for="filter-status">Status</label>
      <select id="filter-status" name="status">
        <option value="">any</option>
        ${SESSION_STATUSES.map((s) => html`<option value="${s}" ${page.status === s ? html` selected` : ''}>${s}</option>`)}
      </select>
    </div>
    ${
      everyOrganization
        ? html`<div>
            <label for="filter-org">Organization</label
            ><input
              id="filter-org"
              name="org"
              value="${page.organization ?? ''}"
              placeholder="every organization"
              autocomplete="off"
            />
          </div>`
        : ''
    }
    <button type="submit" class="secondary">Filter</button>
  </form>`;

  const rows = page.rows.map(({ view, detail, worker }) => {
    return html`<tr>
      <td data-label="Session">
        <a href="${sessionPath(view.id)}">${view.name ?? view.id}</a
        >${view.name ? html`<br /><code class="muted">${view.id}</code>` : ''}
      </td>
      ${everyOrganization ? html`<td data-label="Organization"><code>${detail?.organizationId ?? ''}</code></td>` : ''}
      <td data-label="Status">
        ${statusBadge(view.status)}${detail?.statusReason ? html`<br /><span class="muted">${detail.statusReason}</span>` : ''}
      </td>
      <td data-label="Phone">
        ${view.phoneJid ? html`<code>${view.phoneJid.split('@')[0]}</code>` : html`<span class="muted">—</span>`}
      </td>
      <td data-label="LID">${view.lid ? html`<code>${view.lid}</code>` : html`<span class="muted">—</span>`}</td>
      <td data-label="Shard" class="num">${view.shard}</td>
      <td data-label="Worker">${worker ? html`<code>${worker}</code>` : html`<span class="muted">none</span>`}</td>
      <td data-label="Last connected">${moment(view.lastConnectedAt)}</td>
      <td data-label="Stored contacts" class="num">${detail?.storedContacts ?? 0}</td>
    </tr>`;
  });

  const table = page.rows.length
    ? html`<div class="table-wrap">
        <table class="cards">
          <caption>
            ${everyOrganization ? 'Sessions of every organization' : 'Your organization’s sessions'}${page.status ? ` with status ${page.status}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              ${everyOrganization ? html`<th scope="col">Organization</th>` : ''}
              <th scope="col">Status</th>
              <th scope="col">Phone</th>
              <th scope="col">LID</th>
              <th scope="col" class="num">Shard</th>
              <th scope="col">Worker</th>
              <th scope="col">Last connected</th>
              <th scope="col" class="num">Stored contacts</th>
            </tr>
          </thead>
          <tbody>
            ${rows}
          </tbody>
        </table>
      </div>`
    : html`<p>No sessions${page.status ? html` with status ${page.status}` : ''}.</p>`;

  const create = html`<section class="card" aria-labelledby="create-title">
    <h2 id="create-title">Attach a number</h2>
    <form class="stack" method="post" action="${CONSOLE_PATHS.sessions}">
      ${csrfField(viewer)}
      <label for="create-name">Name (optional, for people)</label>
      <input id="create-name" name="name" maxlength="200" placeholder="Support line" autocomplete="off" />
      ${everyOrganization ? html`<label for="create-org">Organization id</label><input id="create-org" name="organization" required autocomplete="off" value="${page.organization ?? ''}" />` : ''}
      <p><button type="submit">Create session and pair</button></p>
    </form>
  </section>`;

  return layout(viewer, {
    title: 'Sessions',
    section: 'sessions',
    notice: page.notice,
    body: html`${filters}${table}${page.nextHref ? html`<p class="pager"><a href="${page.nextHref}" rel="next">Next page</a></p>` : ''}${create}`,
  });
}
