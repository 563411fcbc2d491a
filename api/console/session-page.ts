import { EVERY_ORGANIZATION } from '../auth/organization-scope.js';
import type { SessionView } from '../sessions/session-schemas.js';
import { isUnpaired } from '../sessions/session-service.js';
import {
  ago,
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

/**
 * How long a pairing code can be entered: it belongs to the connection's pairing attempt, which
 * Baileys ends when WhatsApp's QR refs run out (60 s for the first, 20 s for each next one,
 * `Socket/socket.js`); the gateway then reconnects with new keys and the code no longer works.
 */
export const PAIRING_CODE_LIFETIME_MS = 120_000;

export interface SessionPageData {
  view: SessionView;
  detail: SessionDetail | undefined;
  worker: string | null;
  /** The current QR as an image, when the session is unpaired and its worker has shown one. */
  qr: { id: string; image: string } | undefined;
  pairingCode: { code: string; phone: string; expiresAt: number } | undefined;
  notice: string | undefined;
  /** What went wrong with the pairing-code request, shown beside its form. */
  pairingError: string | undefined;
  now: number;
}

export function sessionPage(viewer: ConsoleViewer, data: SessionPageData): string {
  const { view, detail } = data;
  const unpaired = isUnpaired(view);
  const facts = html`<section class="card" aria-labelledby="facts-title">
    <h2 id="facts-title">Session</h2>
    <dl class="facts">
      <dt>Id</dt>
      <dd><code>${view.id}</code></dd>
      ${
        viewer.scope === EVERY_ORGANIZATION
          ? html`<dt>Organization</dt>
              <dd><code>${detail?.organizationId ?? ''}</code></dd>`
          : ''
      }
      <dt>Status</dt>
      <dd>
        ${statusBadge(view.status, 'session-status')}
        <span id="session-reason" class="muted">${detail?.statusReason ?? ''}</span>
      </dd>
      ${
        detail?.statusSince
          ? html`<dt>In this status since</dt>
              <dd>${moment(detail.statusSince)}</dd>`
          : ''
      }
      <dt>Phone</dt>
      <dd>${view.phoneJid ? html`<code>${view.phoneJid}</code>` : html`<span class="muted">not paired</span>`}</dd>
      <dt>LID</dt>
      <dd>${view.lid ? html`<code>${view.lid}</code>` : html`<span class="muted">—</span>`}</dd>
      <dt>Shard</dt>
      <dd>${view.shard}</dd>
      <dt>Worker</dt>
      <dd>
        ${data.worker ? html`<code>${data.worker}</code>` : html`<span class="muted">no worker holds its shard</span>`}
      </dd>
      <dt>Last connected</dt>
      <dd>${moment(view.lastConnectedAt)}</dd>
      <dt>Created</dt>
      <dd>${moment(view.createdAt)}</dd>
      <dt>Stored contacts</dt>
      <dd>${detail?.storedContacts ?? 0}</dd>
    </dl>
  </section>`;

  const code = data.pairingCode;
  const pairing = html`<section
    class="card"
    id="pairing"
    aria-labelledby="pairing-title"
    data-poll-url="${sessionPath(view.id)}/pairing"
  >
    <h2 id="pairing-title">Pairing</h2>
    <p id="pairing-live" class="visually-hidden" aria-live="polite"></p>
    <p id="paired" ${unpaired ? html` hidden` : ''}>
      ${view.status === 'logged_out' ? 'This session is logged out: create a new session to pair the number again.' : 'This session is paired.'}
    </p>
    <div class="pairing-grid" ${unpaired ? '' : html` hidden`} id="pairing-ways">
      <div>
        <figure id="qr" ${data.qr ? '' : html` hidden`}>
          <img
            id="qr-image"
            ${data.qr ? html` src="${data.qr.image}"` : ''}
            data-qr-id="${data.qr?.id ?? ''}"
            width="320"
            height="320"
            alt="QR code to link this session: scan it in WhatsApp under Settings, Linked devices, Link a device"
          />
          <figcaption>
            On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan. WhatsApp replaces the code
            about every 20 seconds; this page follows it.
          </figcaption>
        </figure>
        <p id="qr-waiting" ${data.qr ? html` hidden` : ''}>Waiting for a QR code from the session’s worker…</p>
      </div>
      <div>
        <h3>Or link with a phone number</h3>
        ${
          code
            ? html`<div role="status">
                <p>
                  Enter this code on the phone (${code.phone}) under Linked devices → Link with phone number instead:
                </p>
                <p class="code" id="pairing-code">${code.code}</p>
                <p>
                  It works until about ${moment(code.expiresAt)} (${ago(code.expiresAt, data.now)}); after that, ask for
                  a new one.
                </p>
              </div>`
            : ''
        }
        ${data.pairingError ? html`<p class="error" role="alert">${data.pairingError}</p>` : ''}
        <form class="stack" method="post" action="${sessionPath(view.id)}/pairing-code">
          ${csrfField(viewer)}
          <label for="pairing-phone">The account’s phone number (with country code)</label>
          <input
            id="pairing-phone"
            name="phone"
            type="tel"
            inputmode="tel"
            autocomplete="tel"
            placeholder="+6281234567890"
            required
            value="${code?.phone ?? ''}"
          />
          <p><button type="submit" class="secondary">Get a pairing code</button></p>
        </form>
      </div>
    </div>
  </section>`;

  const actions = html`<section class="card" aria-labelledby="actions-title">
    <h2 id="actions-title">Actions</h2>
    <div class="actions">
      ${
        view.status !== 'logged_out'
          ? html`<form class="inline" method="post" action="${sessionPath(view.id)}/logout">
              ${csrfField(viewer)}<button type="submit" class="secondary">Log out of WhatsApp</button>
            </form>`
          : ''
      }
      <a href="${sessionPath(view.id)}/delete">Delete session…</a>
      <a href="${CONSOLE_PATHS.batches}">Check batches</a>
    </div>
  </section>`;

  return layout(viewer, {
    title: view.name ?? view.id,
    section: 'sessions',
    notice: data.notice,
    body: html`${facts}${pairing}${actions}`,
  });
}

export function confirmDeletePage(viewer: ConsoleViewer, view: SessionView, detail: SessionDetail | undefined): string {
  const body = html`<section class="card">
    <p>Delete <strong>${view.name ?? view.id}</strong> (<code>${view.id}</code>)?</p>
    <p>
      The account is logged out of WhatsApp if it is connected, then the session is deleted with everything stored for
      it: ${detail?.storedContacts ?? 0} contacts, its groups and memberships, and its WhatsApp credentials. This cannot
      be undone.
    </p>
    <div class="actions">
      <form class="inline" method="post" action="${sessionPath(view.id)}/delete">
        ${csrfField(viewer)}<button type="submit" class="danger">Delete session</button>
      </form>
      <a href="${sessionPath(view.id)}">Cancel</a>
    </div>
  </section>`;
  return layout(viewer, { title: 'Delete session?', section: 'sessions', body });
}
