import { EVERY_ORGANIZATION, type OrganizationScope } from '../auth/organization-scope.js';
import { html, type SafeHtml } from './html.js';
import { SCRIPT_PATH, STYLES_PATH } from './console-assets.js';

/** Who is looking at a console page, and what the page may offer them. */
export interface ConsoleViewer {
  /** e.g. `operator ops` or `key_… of org_acme` */
  label: string;
  scope: OrganizationScope;
  /** Whether Bull Board lets them in (so its links are shown). */
  bullBoard: boolean;
  /** The form token; undefined for a caller without a session cookie (Bearer or Basic), whose forms would be refused. */
  csrf: string | undefined;
}

export type ConsoleSection = 'sessions' | 'batches' | 'workers';

export const CONSOLE_PATHS = {
  sessions: '/admin/sessions',
  batches: '/admin/batches',
  workers: '/admin/workers',
  queues: '/admin/queues',
  logout: '/admin/logout',
} as const;

export const sessionPath = (id: string) => `${CONSOLE_PATHS.sessions}/${encodeURIComponent(id)}`;

/** Every console page: skip link, banner with navigation, main content; one stylesheet and one script, both from this origin. */
export function layout(
  viewer: ConsoleViewer,
  page: { title: string; section?: ConsoleSection; notice?: string | undefined; body: SafeHtml },
): string {
  const link = (section: ConsoleSection, text: string) =>
    html`<li>
      <a href="${CONSOLE_PATHS[section]}" ${page.section === section ? html` aria-current="page"` : ''}>${text}</a>
    </li>`;
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="same-origin">
  <title>${page.title} · Console · WhatsApp Gateway</title>
  <link rel="stylesheet" href="${STYLES_PATH}">
  <script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
  <a class="skip" href="#main">Skip to content</a>
  <header class="top">
    <a class="brand" href="${CONSOLE_PATHS.sessions}">WhatsApp Gateway console</a>
    <nav aria-label="Console">
      <ul>
        ${link('sessions', 'Sessions')}
        ${link('batches', 'Batches')}
        ${viewer.scope === EVERY_ORGANIZATION ? link('workers', 'Workers and shards') : ''}
        ${viewer.bullBoard ? html`<li><a href="${CONSOLE_PATHS.queues}">Queues (Bull Board)</a></li>` : ''}
      </ul>
    </nav>
    <p class="who">Signed in as ${viewer.label} · <form class="inline" method="post" action="${CONSOLE_PATHS.logout}"><button type="submit" class="link">Sign out</button></form></p>
  </header>
  <main id="main" tabindex="-1">
    <h1>${page.title}</h1>
    ${page.notice ? html`<p class="notice" role="status">${page.notice}</p>` : ''}
    ${page.body}
  </main>
</body>
</html>`.text;
}

/** A page saying what went wrong, under the status the API would answer. */
export function errorPage(viewer: ConsoleViewer | undefined, status: number, message: string): string {
  const body = html`<p class="error" role="alert">${message}</p>
    <p><a href="${CONSOLE_PATHS.sessions}">Back to the sessions</a></p>`;
  if (viewer) return layout(viewer, { title: status === 404 ? 'Not found' : 'Something went wrong', body });
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Error · Console · WhatsApp Gateway</title>
        <link rel="stylesheet" href="${STYLES_PATH}" />
      </head>
      <body>
        <main id="main">
          <h1>Error ${status}</h1>
          ${body}
        </main>
      </body>
    </html>`.text;
}

export function csrfField(viewer: ConsoleViewer): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrf ?? ''}" />`;
}

/** A moment as UTC text inside <time>, so it reads the same for everyone and machines get the ISO form. */
export function moment(epochMs: number | null | undefined): SafeHtml {
  if (epochMs === null || epochMs === undefined) return html`<span class="muted">never</span>`;
  const iso = new Date(epochMs).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

/** How long ago (or, negative, from now), in the largest sensible unit. */
export function ago(epochMs: number | null | undefined, now: number): string {
  if (epochMs === null || epochMs === undefined) return 'never';
  const seconds = Math.round((now - epochMs) / 1000);
  const size = Math.abs(seconds);
  const text = size < 90 ? `${size} s` : size < 5400 ? `${Math.round(size / 60)} min` : `${Math.round(size / 3600)} h`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

export function statusBadge(status: string, id?: string): SafeHtml {
  return html`<span class="status" data-status="${status}" ${id ? html` id="${id}"` : ''}>${status}</span>`;
}
