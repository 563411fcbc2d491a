/** The admin login form: a token field, plus operator user/password fields when those are configured. */
export function loginPage(options: { operatorLogin: boolean; error?: string }): string {
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
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · Queues · WhatsApp Gateway</title>
  <style>
    body { font-family: system-ui, sans-serif; background: #f4f5f7; display: flex; justify-content: center; padding-top: 10vh; margin: 0; }
    form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.12); width: min(28rem, 90vw); }
    h1 { font-size: 1.25rem; margin-top: 0; }
    label { display: block; margin: .75rem 0 .25rem; font-size: .9rem; }
    input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
    fieldset { border: 1px solid #ddd; border-radius: 6px; margin-top: 1rem; }
    button { margin-top: 1.25rem; padding: .6rem 1.2rem; font: inherit; cursor: pointer; }
    .error { color: #b00020; }
    .hint { color: #555; font-size: .85rem; }
  </style>
</head>
<body>
  <form method="post" action="/admin/login">
    <h1>Queues: sign in</h1>
    ${error}
    <label for="token">API key or login token (needs the manage capability)</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false">
    <p class="hint">The token is checked once; the browser then keeps a session cookie, never the token.</p>
    ${operator}
    <button type="submit">Sign in</button>
  </form>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
