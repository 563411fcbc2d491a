/**
 * HTML built only through the `html` template tag: every interpolated value is escaped unless it
 * is itself the output of `html`, so markup can only come from this source code, never from data.
 */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Fragment = SafeHtml | string | number | null | undefined | false | readonly Fragment[];

export function html(strings: TemplateStringsArray, ...values: Fragment[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

function render(value: Fragment): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return (value as readonly Fragment[]).map(render).join('');
  return escapeHtml(String(value));
}

/** Escapes for text and for quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}
