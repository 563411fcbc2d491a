import { STYLES_PATH } from '../console/console-assets.js';
import { escapeHtml } from '../console/html.js';

/** The admin login form: a token field, plus operator user/password fields when those are configured. */
export function loginPage(options: { operatorLogin: boolean; next?: string | undefined; error?: string }): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  const operator = options.operatorLogin
    ? `<fieldset>
        <legend>or operator credentials</legend>
        <label for="user">User</label>
        <input id="user" name="user" autocomplete="username">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password">
      </fieldset>`
    : '';
  return formPage(
    'Sign in',
    '/admin/login',
    `
    <h1>Admin: sign in</h1>
    ${error}${
      options.next
        ? `
    <input type="hidden" name="next" value="${escapeHtml(options.next)}">`
        : ''
    }
    <label for="token">API key or login token (needs the manage capability)</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false">
    <p class="muted">The token is checked once; the browser then keeps a session cookie, never the token.</p>
    ${operator}
    <p><button type="submit">Sign in</button></p>`,
  );
}

/**
 * What GET /admin/logout shows: a link (Bull Board's own "sign out" is one) must not change
 * anything, or any page on the web could sign an operator out; the form posts, and the same-origin
 * rule on /admin refuses a post from elsewhere.
 */
export function signOutPage(): string {
  return formPage(
    'Sign out',
    '/admin/logout',
    '\n    <h1>Admin: sign out</h1>\n    <p><button type="submit">Sign out</button></p>',
  );
}

/** A page of the admin area that is one posted form. */
function formPage(title: string, action: string, fields: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title} · Admin · WhatsApp Gateway</title>
  <link rel="stylesheet" href="${STYLES_PATH}">
</head>
<body>
  <main id="main" class="narrow">
  <form class="card stack" method="post" action="${action}">${fields}
  </form>
  </main>
</body>
</html>`;
}
